/** Where the provider answers (Auth0's paths) and the grant names several parts of it test for. */

export const ROUTES = {
  authorization: '/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  device_authorization: '/oauth/device/code',
  code_verification: '/activate',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  end_session: '/oidc/logout',
  introspection: '/oauth/introspect',
  pushed_authorization_request: '/oauth/par',
  registration: '/oidc/register',
}

/** The example API's one endpoint (api.ts). */
export const API_ME_PATH = '/api/me'

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
