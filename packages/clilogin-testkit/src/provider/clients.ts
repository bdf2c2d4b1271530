/**
 * The clients every provider knows (DEMO_CLIENT_ID, DEMO_CONFIDENTIAL_CLIENT_ID and the test's own,
 * `clients`), as oidc-provider client metadata. A per-client option of TestClient maps onto its
 * metadata here.
 */
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CONFIDENTIAL_CLIENT_ID } from './demo.ts'
import { DEVICE_CODE_GRANT } from './routes.ts'
import { JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from './federation.ts'
import type { TestClient } from './types.ts'

/** Ports a CLI may register with a provider that matches ports exactly (cli-login's default range). */
const REGISTERED_PORTS = { first: 4242, count: 50 }
/** Loopback callback paths registered for the clients; native clients match any loopback port. */
const CALLBACK_PATHS = ['/callback', '/cb', '/oauth/callback', '/oauth2/callback', '/auth/callback', '/login/callback', '/']
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]']

export function clientMetadata(options: { clients?: readonly TestClient[]; redirectUris?: string[] }): Record<string, unknown>[] {
  const redirectUris = loopbackRedirectUris(options.redirectUris ?? [])
  const clientBase = {
    application_type: 'native',
    // The demo clients may also exchange tokens (an ID-JAG at this provider as an identity provider) and present assertions.
    grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: redirectUris,
  }
  return [
    { ...clientBase, client_id: DEMO_CLIENT_ID, client_name: 'cli-login demo', token_endpoint_auth_method: 'none' },
    {
      ...clientBase,
      client_id: DEMO_CONFIDENTIAL_CLIENT_ID,
      client_name: 'cli-login demo (with secret)',
      client_secret: DEMO_CLIENT_SECRET,
      // oidc-provider accepts client_secret_basic and client_secret_post interchangeably for either.
      token_endpoint_auth_method: 'client_secret_post',
    },
    ...(options.clients ?? []).map((client) => ({
      ...clientBase,
      client_id: client.clientId,
      client_name: client.clientName ?? client.clientId,
      ...clientAuthentication(client),
      ...(client.dpop ? { dpop_bound_access_tokens: true } : {}),
      ...(client.par ? { require_pushed_authorization_requests: true } : {}),
    })),
  ]
}

/** How a test client authenticates, and the grants that go with it (the client credentials grant only with credentials). */
function clientAuthentication(client: TestClient): Record<string, unknown> {
  const machineGrants = [JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT]
  const grantTypes = (credentials: boolean) => [...clientGrants, ...machineGrants, ...(credentials ? ['client_credentials'] : [])]
  if (client.jwks) return { jwks: client.jwks, token_endpoint_auth_method: 'private_key_jwt', grant_types: grantTypes(true) }
  if (client.clientSecret !== undefined) return { client_secret: client.clientSecret, token_endpoint_auth_method: 'client_secret_post', grant_types: grantTypes(true) }
  return { token_endpoint_auth_method: 'none', grant_types: grantTypes(false) }
}

const clientGrants = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT]

function loopbackRedirectUris(extra: readonly string[]): string[] {
  const uris = new Set<string>()
  for (const host of LOOPBACK_HOSTS) {
    for (const path of CALLBACK_PATHS) uris.add(`http://${host}${path}`)
  }
  for (let port = REGISTERED_PORTS.first; port < REGISTERED_PORTS.first + REGISTERED_PORTS.count; port++) {
    uris.add(`http://127.0.0.1:${port}/callback`)
    uris.add(`http://localhost:${port}/callback`)
  }
  for (const uri of extra) uris.add(uri)
  return [...uris]
}
