import * as client from 'openid-client'
import { ProviderError } from '../errors.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'

/**
 * Redeems the refresh token (RFC 6749 §6). `parameters` ask for another API (`audience`,
 * `resource`) or a narrower `scope`.
 */
export async function refreshTokens(config: client.Configuration, refreshToken: string, parameters: Record<string, string> = {}): Promise<TokenSet> {
  try {
    return toTokenSet(await client.refreshTokenGrant(config, refreshToken, parameters))
  } catch (error) {
    throw toProviderError(error, 'the token refresh')
  }
}

/**
 * The provider will not honour the refresh token again: invalid_grant (revoked, expired, reused),
 * or any 400/401, with or without a valid OAuth error body (some providers answer a reused token
 * with an empty 400). A 5xx, 429 or network failure is not: the session stays as it is.
 */
export function isRefreshRejected(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false
  return error.error === 'invalid_grant' || error.status === 400 || error.status === 401
}
