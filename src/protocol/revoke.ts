import * as client from 'openid-client'
import { toProviderError } from './provider.ts'

/** Revokes a refresh token; a provider without a revocation endpoint is not an error (returns false). */
export async function revokeRefreshToken(config: client.Configuration, refreshToken: string): Promise<boolean> {
  if (!config.serverMetadata().revocation_endpoint) return false
  try {
    await client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' })
    return true
  } catch (error) {
    throw toProviderError(error, 'the token revocation')
  }
}

/**
 * The provider's end-session URL (OIDC RP-initiated logout), or Auth0's /v2/logout for an Auth0
 * tenant that does not advertise one; undefined when there is none.
 */
export function endSessionUrl(config: client.Configuration, hint: { idToken?: string; clientId: string }): URL | undefined {
  const metadata = config.serverMetadata()
  if (metadata.end_session_endpoint) {
    return client.buildEndSessionUrl(config, hint.idToken ? { id_token_hint: hint.idToken } : { client_id: hint.clientId })
  }
  const issuer = new URL(metadata.issuer)
  if (/\.auth0\.com$/.test(issuer.hostname)) {
    const url = new URL('/v2/logout', issuer)
    url.searchParams.set('client_id', hint.clientId)
    return url
  }
  return undefined
}
