/**
 * The provider's metadata documents: OpenID discovery, and RFC 8414 metadata under its OAuth 2 name.
 * With `discovery: 'oauth2'`, a plain OAuth 2 server: nothing OpenID in its metadata and no OpenID
 * discovery at all (the token endpoint drops ID tokens too, token-endpoint.ts).
 */
import type { Kit } from './kit.ts'
import type { Middleware } from './oidc-provider.ts'

const OIDC_ONLY_METADATA = ['userinfo_endpoint', 'id_token_signing_alg_values_supported', 'claims_supported', 'claim_types_supported', 'subject_types_supported', 'claims_parameter_supported', 'end_session_endpoint', 'request_parameter_supported', 'request_uri_parameter_supported', 'require_request_uri_registration']
const OIDC_SCOPES = ['openid', 'profile', 'email']

export function discoveryDocuments(kit: Kit): Middleware {
  return async (ctx, next) => {
    const { path, method } = ctx
    if (path === '/.well-known/oauth-authorization-server' && (method === 'GET' || method === 'HEAD')) {
      ctx.path = '/.well-known/openid-configuration'
      await next()
      const body = ctx.body as Record<string, unknown> | undefined
      if (kit.plainOAuth2 && body && typeof body === 'object') {
        for (const key of OIDC_ONLY_METADATA) delete body[key]
        if (Array.isArray(body.scopes_supported)) body.scopes_supported = body.scopes_supported.filter((s) => !OIDC_SCOPES.includes(String(s)))
      }
      return
    }
    if (kit.plainOAuth2 && path === '/.well-known/openid-configuration') {
      ctx.status = 404
      ctx.body = { error: 'not_found' }
      return
    }
    await next()
  }
}
