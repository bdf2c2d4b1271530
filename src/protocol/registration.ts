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
    return params.fetch(url, options as RequestInit)
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
 * Whether the authorization endpoint still knows the client: asked with just client_id and
 * redirect_uri, a server that knows it redirects (to the redirect URI with an error, or to its
 * sign-in page); one that does not shows an error page (RFC 6749 §4.1.2.1: it must not redirect
 * to an unverified redirect URI). Nothing secret is sent; no browser is involved.
 */
export async function isClientKnown(authorizationEndpoint: string, clientId: string, redirectUri: string, fetchImpl: typeof fetch): Promise<boolean> {
  const url = new URL(authorizationEndpoint)
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) return true
  url.searchParams.set('client_id', clientId)
  url.searchParams.set('redirect_uri', redirectUri)
  const response = await fetchImpl(url.href, { method: 'GET', redirect: 'manual' })
  await response.body?.cancel().catch(() => {})
  return response.status < 400
}
