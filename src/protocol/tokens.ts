import type * as client from 'openid-client'
import type { Session, SessionUser } from '../session/session.ts'

export type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers

/** What a session keeps of the login settings. */
export type SessionBase = Pick<Session, 'issuer' | 'clientId' | 'clientSecret' | 'audience' | 'organization' | 'requestedScope'>

/** A new session from the token endpoint's answer to a login. */
export function sessionFromTokens(tokens: TokenResponse, base: SessionBase, nowS: number): Session {
  return {
    version: 1,
    ...definedOnly(base),
    ...tokenFields(tokens, nowS),
    user: userFromClaims(tokens.claims()),
    createdAt: nowS,
  } as Session
}

/** The session after a refresh: a rotated refresh token replaces the old one; what the provider left out is kept. */
export function refreshedSession(previous: Session, tokens: TokenResponse, nowS: number): Session {
  const claims = tokens.claims()
  const fields = tokenFields(tokens, nowS)
  return {
    ...previous,
    ...fields,
    expiresAt: fields.expiresAt,
    refreshToken: fields.refreshToken ?? previous.refreshToken,
    idToken: fields.idToken ?? previous.idToken,
    scope: fields.scope ?? previous.scope,
    user: claims ? userFromClaims(claims) : previous.user,
    refreshedAt: nowS,
  }
}

function tokenFields(tokens: TokenResponse, nowS: number) {
  const expiresIn = tokens.expiresIn()
  return {
    tokenType: normalizeTokenType(tokens.token_type),
    accessToken: tokens.access_token,
    expiresAt: expiresIn === undefined ? undefined : nowS + expiresIn,
    refreshToken: tokens.refresh_token,
    idToken: tokens.id_token,
    scope: tokens.scope,
  }
}

function normalizeTokenType(type: string | undefined): string {
  return !type || type.toLowerCase() === 'bearer' ? 'Bearer' : type
}

function userFromClaims(claims: client.IDToken | undefined): SessionUser {
  if (!claims) return {}
  return definedOnly({
    sub: claims.sub,
    email: typeof claims.email === 'string' ? claims.email : undefined,
    name: typeof claims.name === 'string' ? claims.name : undefined,
  })
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
