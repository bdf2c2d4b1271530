import type * as client from 'openid-client'

/** What the token endpoint answered, in the protocol's terms (the session layer decides what to keep). */
export interface TokenSet {
  accessToken: string
  tokenType: string
  expiresInS?: number
  refreshToken?: string
  idToken?: string
  scope?: string
  /** The ID token's claims, validated by openid-client; undefined without an ID token. */
  claims?: Record<string, unknown>
}

export function toTokenSet(response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers): TokenSet {
  const claims = response.claims()
  return {
    accessToken: response.access_token,
    tokenType: response.token_type,
    expiresInS: response.expiresIn(),
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    scope: response.scope,
    claims: claims ? { ...claims } : undefined,
  }
}
