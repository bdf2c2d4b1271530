/**
 * The access-token use case: the stored token while it is fresh, else one refresh per profile
 * across processes (a lock), for the session's own API or another one (audience, resource, scope).
 */
import { cancellation, createContext, type LoginContext } from '../context.ts'
import type * as client from 'openid-client'
import { AccountChangedError, ErrorCode, LoginRequiredError, ProviderError, SessionExpiredError, SessionMismatchError, UsageError } from '../errors.ts'
import type { GetAccessTokenOptions } from '../library-options.ts'
import { DEFAULTS, issuerFrom, normalizeScope, sameIssuer } from '../options.ts'
import { rotatedRefreshToken, unverifiedTokenSet } from '../protocol/token-set.ts'
import { refreshedSession, withTargetToken, withVerifiedIdToken } from '../session/from-tokens.ts'
import { isSessionExpired, type AccessToken, type Session } from '../session/session.ts'
import { decideToken, isFresh, resolveTarget, storedToken, targetKey, type TokenRequest, type TokenTarget } from '../session/token-decision.ts'
import { wrongAudienceProblem } from '../protocol/quirks.ts'
import { forgetProviderCache, loadProvider, rememberJwks } from './provider-metadata.ts'
import type { DpopSigner } from '../protocol/dpop.ts'
import { importSigningKey, signProof } from '../protocol/dpop-proof.ts'

export async function getAccessToken(ctx: LoginContext, options: GetAccessTokenOptions = {}): Promise<AccessToken> {
  ctx.throwIfCancelled()
  const session = await readUsableSession(ctx, true)
  const request = tokenRequest(ctx, session, options)
  const decision = decideToken(session, request)
  ctx.debug(`token: ${decision.action}${decision.action === 'login' ? ` (${decision.reason})` : ''}${request.target ? ` for ${targetKey(request.target)}` : ''}`)
  if (decision.action === 'use') return withProof(ctx, session, decision.token)
  if (decision.action === 'login') {
    if (decision.reason === 'session-expired') throw new SessionExpiredError(ctx.loginTarget)
    throw noRefreshToken(ctx, session, request)
  }
  const client = { clientId: options.clientId, clientSecret: options.clientSecret }
  const refreshed = await untilCancelled(ctx, inFlight(refresh(withoutSignal(ctx), session, request, ctx.signal, client)))
  const token = storedToken(refreshed, request)
  if (!token) throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider returned no ID token on refresh', { error: 'no_id_token' })
  return withProof(ctx, refreshed, token)
}

/**
 * A DPoP-bound token (RFC 9449) comes with `proof()`: a fresh proof per request, signed with the
 * session's key (imported non-extractable once per process), with the nonce given or the last one
 * the URL's origin gave. A nonce given is kept with the session, for later proofs and processes.
 */
function withProof(ctx: LoginContext, session: Session, token: AccessToken): AccessToken {
  const jwk = session.dpopKey
  if (!jwk || !session.jkt || token.token_type.toLowerCase() !== 'dpop') return token
  const jkt = session.jkt
  const nonces: Record<string, string> = { ...session.dpopNonces }
  const keys = (ctx.memory.dpopKeys ??= new Map())
  const proof: NonNullable<AccessToken['proof']> = async ({ method, url, nonce }) => {
    let key = keys.get(jkt)
    if (!key) {
      key = importSigningKey(jwk)
      keys.set(jkt, key)
    }
    const origin = new URL(url).origin
    if (nonce !== undefined && nonces[origin] !== nonce) {
      nonces[origin] = nonce
      await rememberNonce(ctx, jkt, origin, nonce)
    }
    return signProof(await key, jwk, { method, url, accessToken: token.access_token, nonce: nonce ?? nonces[origin] })
  }
  return { ...token, token_type: 'DPoP', proof }
}

/** A resource's DPoP nonce, kept with the session (not secret) while it is still the session of this key. */
async function rememberNonce(ctx: LoginContext, jkt: string, origin: string, nonce: string): Promise<void> {
  await ctx.store.withLock(ctx.profile, async () => {
    const current = await ctx.store.readSession(ctx.profile)
    if (!current || current.jkt !== jkt || current.dpopNonces?.[origin] === nonce) return
    await ctx.store.writeSession(ctx.profile, { ...current, dpopNonces: { ...current.dpopNonces, [origin]: nonce } })
  })
}

/** Refreshes still under way in this process (a caller's signal does not end them). */
const refreshing = new Set<Promise<unknown>>()

function inFlight<T>(work: Promise<T>): Promise<T> {
  const settled = work.then(() => {}, () => {})
  refreshing.add(settled)
  void settled.then(() => refreshing.delete(settled))
  return work
}

/**
 * Resolves once no refresh started in this process is under way any more (each has stored what
 * the provider answered, or failed). A process that exits on Ctrl-C awaits this first: the
 * rotated refresh token of an answer under way is then not lost.
 */
export async function refreshesSettled(): Promise<void> {
  while (refreshing.size > 0) await Promise.all(refreshing)
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

/**
 * One refresh at a time per profile, across processes: whoever waited re-reads and uses the token
 * the other stored. `signal` ends the wait for the lock (nothing has been sent then), never the
 * refresh itself once the lock is taken.
 */
async function refresh(ctx: LoginContext, seen: Session, request: TokenRequest, signal: AbortSignal | undefined, client: { clientId?: string; clientSecret?: string } = {}): Promise<Session> {
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
      if (current.grant !== undefined && !current.refreshToken && !request.target && request.tokenType !== 'id') {
        const { renewMachineToken } = await import('./machine-login.ts')
        return renewMachineToken(ctx, current)
      }
      if (request.target) {
        const enterprise = await enterpriseTarget(ctx, current, request.target, client)
        if (enterprise) return enterprise
      }
      if (!current.refreshToken) throw noRefreshToken(ctx, current, request)
      return refreshStored(ctx, current, current.refreshToken, request.target)
    },
    async () => {
      if (signal?.aborted) throw cancellation(signal)
      ctx.debug('token: another process is refreshing; waiting for its token')
      // While another process refreshes: take its token as soon as it is stored, without the lock.
      const current = await ctx.store.readSession(ctx.profile).catch(() => undefined)
      return current && refreshedMeanwhile(current) ? current : undefined
    },
  )
}

/**
 * A resource of another authorization server that trusts the session's identity provider
 * (enterprise-managed authorization): its token from an ID-JAG, the session's ID token refreshed
 * first when it has expired. Undefined when the target is not one (the refresh token gets it).
 */
async function enterpriseTarget(ctx: LoginContext, current: Session, target: TokenTarget, client: { clientId?: string; clientSecret?: string }): Promise<Session | undefined> {
  const { enterpriseServer, enterpriseToken } = await import('./enterprise-token.ts')
  const server = await enterpriseServer(ctx, current, target)
  if (!server) return undefined
  let session = current
  if (session.refreshToken && session.idTokenExpiresAt !== undefined && !isFresh(session.idTokenExpiresAt, ctx.nowS(), 30)) {
    ctx.debug('enterprise: the ID token has expired; refreshing the session first')
    session = await refreshStored(ctx, session, session.refreshToken, undefined)
  }
  return enterpriseToken(ctx, session, target, server, client)
}

/**
 * The refresh grant itself, under the lock. The provider's answer is stored the moment it arrives,
 * before openid-client verifies its ID token (PRODUCT.md, Security requirements): the rotated
 * refresh token is never lost to a JWKS that fails, a signal or a crash.
 */
async function refreshStored(ctx: LoginContext, previous: Session, refreshToken: string, target: TokenTarget | undefined): Promise<Session> {
  const { config } = await loadProvider(ctx, previous)
  const { refreshTokens, RefreshFailure, isRefreshRejected } = await import('../protocol/refresh.ts')
  const current = previous.unverifiedIdToken && !target ? await verifyKeptIdToken(ctx, config, previous) : previous
  ctx.debug(`refresh: token endpoint ${config.serverMetadata().token_endpoint ?? '(none)'}`)
  const nowS = ctx.nowS()
  let arrived: Session | undefined
  const storeOnArrival = async (answer: Record<string, unknown>): Promise<void> => {
    arrived = sessionOnArrival(current, target, answer, nowS)
    if (arrived) await ctx.store.writeSession(ctx.profile, arrived)
  }
  let tokens
  let signer: DpopSigner | undefined
  try {
    // The login's own resource (RFC 8707) goes with its refreshes too.
    const parameters = target ? targetParameters(target) : current.resource ? { resource: current.resource } : {}
    const { sessionSigner } = await import('../protocol/dpop.ts')
    signer = await sessionSigner(config, current)
    tokens = await refreshTokens(config, refreshToken, { parameters, onAnswer: storeOnArrival, signer })
  } catch (error) {
    if (!(error instanceof RefreshFailure)) throw error
    const failure = error.failure
    if (error.answered) return afterUnverifiedAnswer(ctx, current, target, arrived, failure)
    // Another API or scope the provider will not give (invalid_target, invalid_scope) is that call's
    // error: the refresh token itself was not refused, and the session goes on.
    if (isRefreshRejected(failure) && !(target && (failure.error === 'invalid_target' || failure.error === 'invalid_scope'))) {
      await markExpired(ctx, current)
      throw new SessionExpiredError(ctx.loginTarget, { cause: failure })
    }
    await forgetProviderCache(ctx)
    throw failure
  } finally {
    await rememberJwks(ctx, config)
  }
  const nonces = signer && JSON.stringify(signer.nonces) !== JSON.stringify(current.dpopNonces ?? {}) ? { dpopNonces: signer.nonces } : {}
  if (!target) {
    const next = { ...refreshedSession(current, tokens, nowS), ...nonces }
    await assertSameAccount(ctx, current, next)
    if (JSON.stringify(next) !== JSON.stringify(arrived)) await ctx.store.writeSession(ctx.profile, next)
    return next
  }
  const wrongAudience = wrongAudienceProblem(tokens.accessToken, target.resource ?? target.audience)
  // The refresh token may have rotated all the same: it was kept on arrival; the wrong token is not.
  if (wrongAudience) throw new ProviderError(ErrorCode.TOKEN_AUDIENCE_MISMATCH, wrongAudience, { error: 'audience_mismatch' })
  const next = { ...withTargetToken(current, target, targetKey(target), tokens, nowS), ...nonces }
  await ctx.store.writeSession(ctx.profile, next)
  return next
}

/**
 * What is stored the moment the answer arrives: the new tokens, its ID token kept apart as
 * unverified (the previous claims stay); for another API, only the rotated refresh token (its
 * token is checked first). Undefined when there is nothing to keep.
 */
function sessionOnArrival(current: Session, target: TokenTarget | undefined, answer: Record<string, unknown>, nowS: number): Session | undefined {
  const rotated = rotatedRefreshToken(answer)
  const tokens = target ? undefined : unverifiedTokenSet(answer)
  if (tokens) return refreshedSession(current, tokens, nowS)
  return rotated && rotated !== current.refreshToken ? { ...current, refreshToken: rotated } : undefined
}

/**
 * The answer arrived and was stored, then openid-client refused it. For a passing reason (the
 * JWKS unreachable) the new tokens stay in use and the ID token is verified at the next refresh;
 * an ID token for another issuer or audience ends the session; anything else (a bad signature,
 * the clocks) fails, keeping only the rotated refresh token of the answer.
 */
async function afterUnverifiedAnswer(ctx: LoginContext, current: Session, target: TokenTarget | undefined, arrived: Session | undefined, failure: ProviderError): Promise<Session> {
  const { claimMismatch } = await import('../protocol/provider.ts')
  const claim = claimMismatch(failure)
  if (claim) return endSession(ctx, claim === 'iss' ? 'an ID token from another issuer' : 'an ID token for another audience', failure)
  if (!target && arrived?.unverifiedIdToken !== undefined && isPassing(failure)) {
    ctx.debug(`refresh: stored; its ID token is verified at the next refresh (${failure.message})`)
    return arrived
  }
  const kept = arrived?.refreshToken ?? current.refreshToken
  if (arrived) await ctx.store.writeSession(ctx.profile, kept === current.refreshToken ? current : { ...current, refreshToken: kept })
  throw failure
}

/** The ID token of an earlier refresh, stored unverified: verified now (openid-client, from the stored answer). */
async function verifyKeptIdToken(ctx: LoginContext, config: client.Configuration, session: Session): Promise<Session> {
  const { verifyStoredAnswer } = await import('../protocol/refresh.ts')
  const { claimMismatch } = await import('../protocol/provider.ts')
  const answer = { access_token: session.accessToken, token_type: session.tokenType, id_token: session.unverifiedIdToken }
  let next: Session
  try {
    next = withVerifiedIdToken(session, await verifyStoredAnswer(config, answer))
  } catch (error) {
    const claim = claimMismatch(error)
    if (claim) return endSession(ctx, claim === 'iss' ? 'an ID token from another issuer' : 'an ID token for another audience', error)
    if (error instanceof ProviderError && isPassing(error)) {
      ctx.debug(`refresh: the ID token of the last refresh still cannot be verified (${error.message})`)
      return session
    }
    ctx.debug(`refresh: the ID token of the last refresh is not valid (${error instanceof Error ? error.message : String(error)}); it is dropped`)
    const { unverifiedIdToken: _dropped, ...rest } = session
    await ctx.store.writeSession(ctx.profile, rest)
    return rest
  }
  await assertSameAccount(ctx, session, next)
  await ctx.store.writeSession(ctx.profile, next)
  return next
}

/** A failure that says nothing about the answer: the provider (its JWKS) could not be reached or answered 5xx/429. */
function isPassing(error: ProviderError): boolean {
  return error.code === ErrorCode.PROVIDER_UNREACHABLE || (error.status !== undefined && (error.status >= 500 || error.status === 429))
}

/** OIDC Core 12.2: a refreshed ID token names the session's subject, or the session ends. */
async function assertSameAccount(ctx: LoginContext, previous: Session, next: Session): Promise<void> {
  const before = subjectOf(previous)
  const after = typeof next.claims?.sub === 'string' ? next.claims.sub : undefined
  if (before !== undefined && after !== undefined && before !== after) await endSession(ctx, `subject ${JSON.stringify(after)}, not ${JSON.stringify(before)}`)
}

function subjectOf(session: Session): string | undefined {
  return typeof session.claims?.sub === 'string' ? session.claims.sub : session.user.sub
}

/** The provider answered for someone else: nothing of the session is kept. */
async function endSession(ctx: LoginContext, detail: string, cause?: unknown): Promise<never> {
  await ctx.store.deleteSession(ctx.profile)
  throw new AccountChangedError(ctx.loginTarget, detail, { cause })
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
