import * as client from 'openid-client'
import { toProviderError } from './provider.ts'
import { withDpop, type DpopSigner } from './dpop.ts'
import { fallbackEndSessionUrl } from './quirks.ts'

/** Revokes a refresh token; a provider without a revocation endpoint is not an error (returns false). */
export async function revokeRefreshToken(config: client.Configuration, refreshToken: string, signer?: DpopSigner): Promise<boolean> {
  if (!config.serverMetadata().revocation_endpoint) return false
  try {
    // A DPoP session's revocation carries a proof (withDpop adds it: openid-client's revocation takes no handle).
    await withDpop(config, signer, () => client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' }))
    return true
  } catch (error) {
    throw toProviderError(error, 'the token revocation')
  }
}

/**
 * The provider's end-session URL (OIDC RP-initiated logout), or where a provider that does not
 * advertise one ends its session (quirks.ts: Auth0's /v2/logout); undefined when there is none.
 */
export function endSessionUrl(config: client.Configuration, hint: { idToken?: string; clientId: string }): URL | undefined {
  const metadata = config.serverMetadata()
  if (metadata.end_session_endpoint) {
    return client.buildEndSessionUrl(config, hint.idToken ? { id_token_hint: hint.idToken } : { client_id: hint.clientId })
  }
  return fallbackEndSessionUrl(metadata.issuer, hint.clientId)
}
