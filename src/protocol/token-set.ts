import type * as client from 'openid-client'

/** What the token endpoint answered, in the protocol's terms (the session layer decides what to keep). */
export interface TokenSet {
  accessToken: string
  tokenType: string
  /** Clamped to EXPIRES_IN_S; undefined when the provider did not say. */
  expiresInS?: number
  refreshToken?: string
  idToken?: string
  scope?: string
  /** The ID token's claims, validated by openid-client; undefined without an ID token (or before it is verified). */
  claims?: Record<string, unknown>
}

/**
 * `expires_in` as kept (PRODUCT.md, Security requirements): 1 s to a year. A provider's 1e20 or
 * 1e308 would make an expiry no date can hold; 0 would make a token no one can use.
 */
export const EXPIRES_IN_S = { min: 1, max: 365 * 24 * 60 * 60 } as const

export function clampExpiresIn(seconds: number): number {
  return Math.min(EXPIRES_IN_S.max, Math.max(EXPIRES_IN_S.min, Math.round(seconds)))
}

/** openid-client's validated answer (it refuses an `expires_in` that is not a finite number). */
export function toTokenSet(response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers): TokenSet {
  const claims = response.claims()
  return {
    accessToken: response.access_token,
    tokenType: response.token_type,
    expiresInS: typeof response.expires_in === 'number' ? clampExpiresIn(response.expires_in) : undefined,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    scope: response.scope,
    claims: claims ? { ...claims } : undefined,
  }
}

/**
 * A token endpoint's answer as it arrived, before openid-client has validated it: its tokens, by
 * the same rules openid-client then applies to the fields (its ID token unverified: no claims).
 * Undefined when it is not a usable answer; its `refresh_token` alone may still be.
 */
export function unverifiedTokenSet(answer: Record<string, unknown>): TokenSet | undefined {
  const { access_token: accessToken, token_type: tokenType, id_token: idToken, scope } = answer
  if (typeof accessToken !== 'string' || accessToken === '' || typeof tokenType !== 'string') return undefined
  if (idToken !== undefined && typeof idToken !== 'string') return undefined
  if (scope !== undefined && typeof scope !== 'string') return undefined
  let expiresInS: number | undefined
  if (answer.expires_in !== undefined) {
    const seconds = typeof answer.expires_in === 'number' ? answer.expires_in : typeof answer.expires_in === 'string' ? Number.parseFloat(answer.expires_in) : Number.NaN
    if (!Number.isFinite(seconds) || seconds < 0) return undefined
    expiresInS = clampExpiresIn(seconds)
  }
  return { accessToken, tokenType, expiresInS, refreshToken: rotatedRefreshToken(answer), idToken, scope }
}

/** The answer's refresh token, when it has a usable one. */
export function rotatedRefreshToken(answer: Record<string, unknown>): string | undefined {
  return typeof answer.refresh_token === 'string' && answer.refresh_token !== '' ? answer.refresh_token : undefined
}
