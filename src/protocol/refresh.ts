import * as client from 'openid-client'
import { SessionExpiredError } from '../errors.ts'
import { toProviderError } from './provider.ts'
import type { TokenResponse } from './tokens.ts'

/** Redeems the refresh token. invalid_grant (revoked, expired, reused) → SessionExpiredError. */
export async function refreshTokens(config: client.Configuration, refreshToken: string, profile: string): Promise<TokenResponse> {
  try {
    return await client.refreshTokenGrant(config, refreshToken)
  } catch (error) {
    if (error instanceof client.ResponseBodyError && error.error === 'invalid_grant') {
      throw new SessionExpiredError(profile, { cause: error })
    }
    throw toProviderError(error, 'the token refresh')
  }
}
