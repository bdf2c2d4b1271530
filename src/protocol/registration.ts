/** Dynamic client registration (RFC 7591) as a public native client, and telling whether a server still knows a client. */
import * as client from 'openid-client'
import { toProviderError } from './provider.ts'
import { isLoopbackHttp } from './url.ts'

export interface RegisteredClient {
  clientId: string
  clientSecret?: string
}

/**
 * Registers at the server's registration_endpoint. openid-client registers only after a discovery
 * of its own: it is handed the metadata already discovered (and checked) instead of fetching it again.
 */
export async function registerClient(
  metadata: client.ServerMetadata,
  params: { clientName: string; redirectUris: string[]; fetch: typeof fetch },
): Promise<RegisteredClient> {
  const issuer = new URL(metadata.issuer)
  const known = JSON.stringify(metadata)
  const fetchImpl: client.CustomFetch = async (url, options) => {
    if (options.method === 'GET' && new URL(url).pathname.includes('/.well-known/')) {
      return new Response(known, { status: 200, headers: { 'content-type': 'application/json' } })
    }
    return withSecretExpiry(await params.fetch(url, options as RequestInit))
  }
  try {
    const config = await client.dynamicClientRegistration(
      issuer,
      {
        client_name: params.clientName,
        application_type: 'native',
        redirect_uris: params.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
      client.None(),
      {
        algorithm: 'oauth2',
        execute: isLoopbackHttp(new URL(metadata.registration_endpoint ?? issuer.href)) ? [client.allowInsecureRequests] : [],
        [client.customFetch]: fetchImpl,
      },
    )
    const registered = config.clientMetadata()
    const secret = typeof registered.client_secret === 'string' && registered.client_secret ? registered.client_secret : undefined
    return { clientId: registered.client_id, clientSecret: secret }
  } catch (error) {
    throw toProviderError(error, 'the client registration')
  }
}

/**
 * RFC 7591 §3.2.1 requires `client_secret_expires_at` with a secret; servers omit it, and
 * openid-client then refuses the whole registration. Its absence is taken as 0, "does not expire".
 */
async function withSecretExpiry(response: Response): Promise<Response> {
  if (response.status !== 201 && response.status !== 200) return response
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return new Response(text, response)
  }
  const answer = body as Record<string, unknown> | null
  if (typeof answer === 'object' && answer !== null && typeof answer.client_secret === 'string' && answer.client_secret && answer.client_secret_expires_at === undefined) {
    return new Response(JSON.stringify({ ...answer, client_secret_expires_at: 0 }), response)
  }
  return new Response(text, response)
}

/**
 * Whether the authorization endpoint still knows the client: asked with just client_id and
 * redirect_uri, a server that knows it redirects back to the redirect URI (with an error: the
 * request lacks everything else); one that does not shows an error page instead, as RFC 6749
 * §4.1.2.1 requires (it must not redirect to an unverified redirect URI): a 4xx page, or a redirect
 * to an error page of its own. Nothing secret is sent; no browser is involved.
 */
export async function isClientKnown(authorizationEndpoint: string, clientId: string, redirectUri: string, fetchImpl: typeof fetch): Promise<boolean> {
  const url = new URL(authorizationEndpoint)
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) return true
  url.searchParams.set('client_id', clientId)
  url.searchParams.set('redirect_uri', redirectUri)
  const response = await fetchImpl(url.href, { method: 'GET', redirect: 'manual' })
  await response.body?.cancel().catch(() => {})
  const location = response.status >= 300 && response.status < 400 ? URL.parse(response.headers.get('location') ?? '', url) : null
  if (!location) return false
  const back = new URL(redirectUri)
  return location.origin === back.origin && location.pathname === back.pathname
}
