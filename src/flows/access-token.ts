/**
 * The access-token use case: the stored token while it is fresh, else one refresh per profile
 * across processes (a lock), for the session's own API or another one (audience, resource, scope).
 */
import { cancellation, createContext, type LoginContext } from '../context.ts'
import { ErrorCode, LoginRequiredError, ProviderError, SessionExpiredError, SessionMismatchError, UsageError } from '../errors.ts'
import type { GetAccessTokenOptions } from '../library-options.ts'
import { DEFAULTS, issuerFrom, normalizeScope, sameIssuer } from '../options.ts'
import { refreshedSession, withTargetToken } from '../session/from-tokens.ts'
import { isSessionExpired, type AccessToken, type Session } from '../session/session.ts'
import { decideToken, isFresh, resolveTarget, storedToken, targetKey, type TokenRequest, type TokenTarget } from '../session/token-decision.ts'
import { wrongAudienceProblem } from '../protocol/quirks.ts'
import { forgetProviderCache, loadProvider } from './provider-metadata.ts'

export async function getAccessToken(ctx: LoginContext, options: GetAccessTokenOptions = {}): Promise<AccessToken> {
  ctx.throwIfCancelled()
  const session = await readUsableSession(ctx, true)
  const request = tokenRequest(ctx, session, options)
  const decision = decideToken(session, request)
  ctx.debug(`token: ${decision.action}${decision.action === 'login' ? ` (${decision.reason})` : ''}${request.target ? ` for ${targetKey(request.target)}` : ''}`)
  if (decision.action === 'use') return decision.token
  if (decision.action === 'login') {
    if (decision.reason === 'session-expired') throw new SessionExpiredError(ctx.loginTarget)
    throw noRefreshToken(ctx, session, request)
  }
  const refreshed = await untilCancelled(ctx, refresh(withoutSignal(ctx), session, request))
  const token = storedToken(refreshed, request)
  if (!token) throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider returned no ID token on refresh', { error: 'no_id_token' })
  return token
}

/**
 * The caller's signal ends the wait, not the refresh: once the request is sent the provider may
 * rotate the refresh token, and dropping its answer would lose the session to reuse detection.
 * So the refresh runs to completion and is stored, while the caller gets the cancellation at once.
 */
function withoutSignal(ctx: LoginContext): LoginContext {
  if (!ctx.signal) return ctx
  const { app, profile, options, system, store, memory } = ctx
  return createContext({ app, profile, options, system, store, memory, signal: undefined })
}

async function untilCancelled<T>(ctx: LoginContext, work: Promise<T>): Promise<T> {
  const { signal } = ctx
  if (!signal) return work
  work.catch(() => {}) // still settles after a cancellation, unobserved
  let onAbort!: () => void
  const cancelled = new Promise<never>((_, reject) => {
    onAbort = () => reject(cancellation(signal))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, cancelled])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function tokenRequest(ctx: LoginContext, session: Session, options: GetAccessTokenOptions): TokenRequest {
  const asked: TokenTarget = {
    audience: options.audience,
    resource: options.resource,
    scope: options.scope === undefined ? undefined : normalizeScope(options.scope),
  }
  const target = resolveTarget(session, asked)
  const tokenType = options.tokenType ?? 'access'
  if (tokenType === 'id' && target) throw UsageError.forOption('tokenType', '"id" cannot be combined with another audience, resource or scope')
  const minTtlS = options.minTtlS ?? ctx.options.minTtlS ?? DEFAULTS.minTtlS
  return { target, tokenType, nowS: ctx.nowS(), minTtlS, forceRefresh: options.forceRefresh }
}

function noRefreshToken(ctx: LoginContext, session: Session, request: TokenRequest): LoginRequiredError {
  const reason = !storedToken(session, request)
    ? `there is no refresh token to get ${request.tokenType === 'id' ? 'an ID token' : 'a token for another API or scope'} with`
    : `the ${request.tokenType === 'id' ? 'ID' : 'access'} token has expired and there is no refresh token`
  return new LoginRequiredError(ctx.loginTarget, reason)
}

/**
 * The stored session, if it was made for what this instance is configured for. With `fromMemory`,
 * the copy read last time is reused while the file is unchanged (a stat, no read):
 * getAccessToken() in a long-running process costs microseconds.
 */
export async function readUsableSession(ctx: LoginContext, fromMemory = false): Promise<Session> {
  const { store, profile, memory } = ctx
  const signature = fromMemory ? store.sessionSignature?.(profile) : undefined
  let session: Session | undefined
  if (signature !== undefined && memory.lastRead?.signature === signature) {
    session = memory.lastRead.session
  } else {
    session = await store.readSession(profile)
    memory.lastRead = signature !== undefined && session ? { signature, session } : undefined
  }
  if (!session) throw new LoginRequiredError(ctx.loginTarget)
  const mismatch = sessionMismatch(session, ctx.options)
  if (mismatch) throw new SessionMismatchError(ctx.loginTarget, mismatch)
  return session
}

/**
 * What makes a stored session unusable for an instance: another issuer, client id or audience than
 * the instance's, or a granted scope that does not cover the scope it asks for. An instance given
 * no issuer (the CLI's `token`) takes whatever the profile holds.
 */
export function sessionMismatch(
  session: Session,
  expected: { issuer?: string; domain?: string; clientId?: string; audience?: string; scope?: string | string[]; resource?: string },
): SessionMismatchError['mismatch'] | undefined {
  const issuer = issuerFrom(expected)
  if (issuer && !sameIssuer(issuer, session.issuer)) return 'issuer'
  if (expected.clientId && expected.clientId !== session.clientId) return 'client'
  if (expected.resource !== undefined && !sameIssuer(expected.resource, session.resourceUrl ?? session.resource ?? '') && !sameIssuer(expected.resource, session.resource ?? '')) return 'resource'
  // A configured instance (it names its issuer) wants exactly its audience, none included.
  if ((issuer || expected.audience !== undefined) && (expected.audience || undefined) !== (session.audience || undefined)) return 'audience'
  if (expected.scope !== undefined) {
    const granted = new Set((session.scope ?? session.requestedScope).split(' '))
    // Providers often leave these out of the granted scope; what they grant shows in the tokens.
    if (session.refreshToken) granted.add('offline_access')
    if (session.idToken) granted.add('openid')
    if (!normalizeScope(expected.scope).split(' ').every((word) => granted.has(word))) return 'scope'
  }
  return undefined
}

/** One refresh at a time per profile, across processes: whoever waited re-reads and uses the token the other stored. */
async function refresh(ctx: LoginContext, seen: Session, request: TokenRequest): Promise<Session> {
  const seenToken = storedToken(seen, request)?.access_token
  // A token another process refreshed meanwhile is taken as long as it is still valid at all: when
  // the provider issues tokens shorter-lived than minTtlS, refreshing again would not help.
  const refreshedMeanwhile = (current: Session | undefined): boolean => {
    const token = current && storedToken(current, request)
    return token !== undefined && token.access_token !== seenToken && isFresh(token.expires_at, ctx.nowS(), 0)
  }
  return ctx.store.withLock(
    ctx.profile,
    async () => {
      const current = await readUsableSession(ctx)
      if (refreshedMeanwhile(current)) return current
      if (isSessionExpired(current)) throw new SessionExpiredError(ctx.loginTarget)
      if (!current.refreshToken) throw noRefreshToken(ctx, current, request)
      return refreshStored(ctx, current, current.refreshToken, request.target)
    },
    async () => {
      ctx.debug('token: another process is refreshing; waiting for its token')
      // While another process refreshes: take its token as soon as it is stored, without the lock.
      const current = await ctx.store.readSession(ctx.profile).catch(() => undefined)
      return current && refreshedMeanwhile(current) ? current : undefined
    },
  )
}

/** The refresh grant itself, under the lock; the rotated refresh token is stored before anything else can fail. */
async function refreshStored(ctx: LoginContext, current: Session, refreshToken: string, target: TokenTarget | undefined): Promise<Session> {
  const { config } = await loadProvider(ctx, current)
  const { refreshTokens, isRefreshRejected } = await import('../protocol/refresh.ts')
  ctx.debug(`refresh: token endpoint ${config.serverMetadata().token_endpoint ?? '(none)'}`)
  let tokens
  try {
    // The login's own resource (RFC 8707) goes with its refreshes too.
    tokens = await refreshTokens(config, refreshToken, target ? targetParameters(target) : current.resource ? { resource: current.resource } : {})
  } catch (error) {
    if (isRefreshRejected(error)) {
      await markExpired(ctx, current)
      throw new SessionExpiredError(ctx.loginTarget, { cause: error })
    }
    if (error instanceof ProviderError) await forgetProviderCache(ctx)
    throw error
  }
  const nowS = ctx.nowS()
  if (!target) {
    const next = refreshedSession(current, tokens, nowS)
    await ctx.store.writeSession(ctx.profile, next)
    return next
  }
  const wrongAudience = wrongAudienceProblem(tokens.accessToken, target.resource ?? target.audience)
  if (wrongAudience) {
    // The refresh token may have rotated all the same: keep the new one, drop the wrong token.
    if (tokens.refreshToken) await ctx.store.writeSession(ctx.profile, { ...current, refreshToken: tokens.refreshToken })
    throw new ProviderError(ErrorCode.TOKEN_AUDIENCE_MISMATCH, wrongAudience, { error: 'audience_mismatch' })
  }
  const next = withTargetToken(current, target, targetKey(target), tokens, nowS)
  await ctx.store.writeSession(ctx.profile, next)
  return next
}

function targetParameters(target: TokenTarget): Record<string, string> {
  const parameters: Record<string, string> = {}
  if (target.audience !== undefined) parameters.audience = target.audience
  if (target.resource !== undefined) parameters.resource = target.resource
  if (target.scope !== undefined) parameters.scope = target.scope
  return parameters
}

/** Remembers that the provider rejected the refresh token, so status says so and token fails fast. */
async function markExpired(ctx: LoginContext, session: Session): Promise<void> {
  const { refreshToken: _dropped, ...rest } = session
  await ctx.store.writeSession(ctx.profile, { ...rest, refreshRejectedAt: ctx.nowS() }).catch(() => {})
}
