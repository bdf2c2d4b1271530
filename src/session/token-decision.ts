/**
 * The one rule for "is the stored token usable, or must it be refreshed": a pure function over
 * (session, what was asked, now), used by the library's getAccessToken() and by the CLI's
 * `token` fast path alike, so the two cannot drift.
 */
import { isSessionExpired, type AccessToken, type Session, type TargetToken } from './session.ts'

/** Another API (audience, RFC 8707 resource) or a narrower scope than the session's own token. */
export interface TokenTarget {
  audience?: string
  resource?: string
  /** Space-separated, normalized. */
  scope?: string
}

export interface TokenRequest {
  /** Undefined: the session's own access token. */
  target?: TokenTarget
  /** `id`: the ID token (for Kubernetes API servers that authenticate OIDC ID tokens). */
  tokenType?: 'access' | 'id'
  nowS: number
  /** Refresh when fewer seconds than this are left. */
  minTtlS: number
  forceRefresh?: boolean
}

export type TokenDecision =
  | { action: 'use'; token: AccessToken }
  | { action: 'refresh' }
  | { action: 'login'; reason: 'session-expired' | 'no-refresh-token' }

export function decideToken(session: Session, request: TokenRequest): TokenDecision {
  if (isSessionExpired(session)) return { action: 'login', reason: 'session-expired' }
  const token = storedToken(session, request)
  if (token && !request.forceRefresh && isFresh(token.expires_at, request.nowS, request.minTtlS)) return { action: 'use', token }
  // A session without a person has no refresh token by design: its grant is made again instead.
  if (session.refreshToken || (session.grant !== undefined && !request.target && request.tokenType !== 'id')) return { action: 'refresh' }
  return { action: 'login', reason: 'no-refresh-token' }
}

/** The stored token the request is about, whether fresh or not; undefined when there is none yet. */
export function storedToken(session: Session, request: Pick<TokenRequest, 'target' | 'tokenType'>): AccessToken | undefined {
  if (request.tokenType === 'id') {
    return session.idToken ? { access_token: session.idToken, token_type: 'Bearer', expires_at: session.idTokenExpiresAt ?? null } : undefined
  }
  if (request.target) {
    const stored = session.targets?.[targetKey(request.target)]
    return stored && tokenOf(stored)
  }
  return tokenOf(session)
}

function tokenOf(token: Pick<TargetToken, 'accessToken' | 'tokenType' | 'expiresAt'>): AccessToken {
  return { access_token: token.accessToken, token_type: token.tokenType, expires_at: token.expiresAt ?? null }
}

/** True when the token is valid for more than `minTtlS` seconds (a token without an expiry always is). */
export function isFresh(expiresAt: number | null | undefined, nowS: number, minTtlS: number): boolean {
  if (expiresAt === undefined || expiresAt === null) return true
  return expiresAt - nowS > minTtlS
}

/**
 * What getAccessToken({ audience, resource, scope }) asks for, relative to the session: undefined
 * when it is the session's own token (same audience, no resource, the session's scope), else the
 * target whose token is kept apart.
 */
export function resolveTarget(session: Pick<Session, 'audience' | 'requestedScope' | 'resource'>, asked: TokenTarget): TokenTarget | undefined {
  const sameAudience = asked.audience === undefined || asked.audience === session.audience
  const sameScope = asked.scope === undefined || asked.scope === session.requestedScope
  // The login's own resource is the session's own token.
  const sameResource = asked.resource === undefined || (session.resource !== undefined && asked.resource === session.resource)
  if (sameAudience && sameResource && sameScope) return undefined
  // A narrower scope alone is still for the session's API; a resource (RFC 8707) names its own.
  const audience = asked.audience ?? (asked.resource === undefined ? session.audience : undefined)
  return { audience, resource: asked.resource, scope: asked.scope }
}

/** The key of a target's token in Session.targets. */
export function targetKey(target: TokenTarget): string {
  const parts = new URLSearchParams()
  if (target.audience !== undefined) parts.set('audience', target.audience)
  if (target.resource !== undefined) parts.set('resource', target.resource)
  if (target.scope !== undefined) parts.set('scope', target.scope)
  return parts.toString()
}
