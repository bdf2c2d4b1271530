/** The storage format built from what the token endpoint answered (protocol/token-set.ts). */
import type { TokenSet } from '../protocol/token-set.ts'
import { storableTime } from '../time.ts'
import type { Session, SessionUser, TargetToken } from './session.ts'
import type { TokenTarget } from './token-decision.ts'

/** What a session keeps of the login settings. */
export type SessionBase = Pick<Session, 'issuer' | 'clientId' | 'clientSecret' | 'audience' | 'organization' | 'requestedScope' | 'resource' | 'resourceUrl' | 'endpoints' | 'registration' | 'dpopKey' | 'jkt' | 'dpopNonces'>

/** A new session from the token endpoint's answer to a login. */
export function sessionFromTokens(tokens: TokenSet, base: SessionBase, nowS: number): Session {
  return definedOnly({
    version: 1 as const,
    ...base,
    ...tokenFields(tokens, nowS),
    ...idTokenFields(tokens),
    user: userFromClaims(tokens.claims),
    createdAt: nowS,
  }) as Session
}

/**
 * The session after a refresh: a rotated refresh token replaces the old one; what the provider left
 * out is kept. `tokens.claims` are the verified claims of its ID token: without them (an answer
 * stored before openid-client verified it), the ID token is kept apart as unverified and the
 * previous ID token and claims stay.
 */
export function refreshedSession(previous: Session, tokens: TokenSet, nowS: number): Session {
  const fields = tokenFields(tokens, nowS)
  const { unverifiedIdToken: _superseded, ...rest } = previous
  const verified = tokens.idToken !== undefined && tokens.claims !== undefined
  return definedOnly({
    ...rest,
    ...fields,
    expiresAt: fields.expiresAt,
    refreshToken: fields.refreshToken ?? previous.refreshToken,
    scope: fields.scope ?? previous.scope,
    ...(verified ? { ...idTokenFields(tokens), user: mergedUser(previous.user, userFromClaims(tokens.claims)) } : {}),
    unverifiedIdToken: tokens.idToken !== undefined && !verified ? tokens.idToken : previous.unverifiedIdToken,
    refreshedAt: nowS,
  })
}

/** The session once an ID token kept as unverified has been verified: its claims are the session's now. */
export function withVerifiedIdToken(previous: Session, tokens: TokenSet): Session {
  const { unverifiedIdToken: _verified, ...rest } = previous
  return definedOnly({ ...rest, ...idTokenFields(tokens), user: mergedUser(previous.user, userFromClaims(tokens.claims)) })
}

/**
 * Who is logged in after new claims: the same person keeps the name and email learnt before (from
 * userinfo: OIDC Core 5.4) where the new claims lack them.
 */
export function mergedUser(previous: SessionUser, next: SessionUser): SessionUser {
  if (next.sub !== undefined && previous.sub !== undefined && next.sub !== previous.sub) return next
  return definedOnly({ ...previous, ...next })
}

/** The session after a refresh for another API or scope: the target's token is kept beside the session's own. */
export function withTargetToken(previous: Session, target: TokenTarget, key: string, tokens: TokenSet, nowS: number): Session {
  const { accessToken, tokenType, expiresAt } = tokenFields(tokens, nowS)
  const token: TargetToken = definedOnly({ ...target, accessToken, tokenType, expiresAt, refreshedAt: nowS })
  return {
    ...previous,
    refreshToken: tokens.refreshToken ?? previous.refreshToken,
    targets: { ...previous.targets, [key]: token },
  }
}

function tokenFields(tokens: TokenSet, nowS: number) {
  return {
    tokenType: normalizeTokenType(tokens.tokenType),
    accessToken: tokens.accessToken,
    expiresAt: tokens.expiresInS === undefined ? undefined : storableTime(nowS + tokens.expiresInS),
    refreshToken: tokens.refreshToken,
    scope: tokens.scope,
  }
}

function idTokenFields(tokens: TokenSet): Pick<Session, 'idToken' | 'idTokenExpiresAt' | 'claims'> {
  const exp = tokens.claims?.exp
  return { idToken: tokens.idToken, idTokenExpiresAt: typeof exp === 'number' && Number.isFinite(exp) ? storableTime(exp) : undefined, claims: tokens.claims }
}

function normalizeTokenType(type: string | undefined): string {
  if (!type || type.toLowerCase() === 'bearer') return 'Bearer'
  // openid-client gives the token type in lower case; RFC 9449 spells it `DPoP`.
  return type.toLowerCase() === 'dpop' ? 'DPoP' : type
}

export function userFromClaims(claims: Record<string, unknown> | undefined): SessionUser {
  if (!claims) return {}
  return definedOnly({
    sub: typeof claims.sub === 'string' ? claims.sub : undefined,
    email: typeof claims.email === 'string' ? claims.email : undefined,
    name: typeof claims.name === 'string' ? claims.name : undefined,
  })
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
