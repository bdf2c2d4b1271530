/** The login use case: the browser flow (loopback redirect + PKCE) or the device flow, then storage. */
import type * as client from 'openid-client'
import { cancellation, type LoginContext } from '../context.ts'
import { AuthorizationError, CallbackValidationError, CliLoginError, LoginTimeoutError, ProviderError, SessionFileError } from '../errors.ts'
import type { AccountSummary, LoginResult } from '../library-options.ts'
import { pastedAddressProblem } from '../loopback/guard.ts'
import type { LoginPages } from '../loopback/pages.ts'
import type { CallbackServer } from '../loopback/server.ts'
import type { AuthorizationAttempt } from '../protocol/authorize.ts'
import { hasScope, sameIssuer, type LoginSettings } from '../options.ts'
import { sessionFromTokens, type SessionBase } from '../session/from-tokens.ts'
import { sessionStatus, type ProfileSettings, type Session } from '../session/session.ts'
import { prepareLogin, type PreparedLogin } from './login-target.ts'
import { withStepUp, type StepUpLogin } from './step-up.ts'
import { discover, rememberJwks, type CachedProvider } from './provider-metadata.ts'
import type { BrowserOpenResult } from '../browser/open-browser.ts'
import { isLoopbackHttp } from '../protocol/url.ts'
import type { DpopSigner } from '../protocol/dpop.ts'

export type LoginOutcome = Omit<LoginResult, 'keychain_unavailable' | 'keychain_access_token'>

export async function login(ctx: LoginContext, stepUp?: StepUpLogin): Promise<LoginOutcome> {
  const previous = await storedSessionBefore(ctx)
  let settings: LoginSettings
  let stored: StoredLogin
  try {
    let prepared = await preparedWith(ctx, stepUp)
    settings = prepared.settings
    const run = (p: typeof prepared) => (p.settings.device ? deviceLogin(ctx, p.provider, p.settings) : browserLogin(ctx, p.provider, withLoginHint(p.settings, previous)))
    ctx.throwIfCancelled()
    try {
      stored = await run(prepared)
    } catch (error) {
      // A registration of ours the server has forgotten since the probe: register again, once.
      if (!settings.registration || !(error instanceof ProviderError) || error.error !== 'invalid_client') throw error
      ctx.debug('client: the token endpoint does not know the registered client (invalid_client); registering again')
      prepared = await preparedWith(ctx, stepUp, { forceRegistration: true })
      settings = prepared.settings
      ctx.throwIfCancelled()
      stored = await run(prepared)
    }
  } catch (error) {
    // Whatever was under way when the caller cancelled (discovery, the exchange) ends as a cancellation.
    if (ctx.signal?.aborted) throw cancellation(ctx.signal)
    throw error
  }
  return loginOutcome(ctx, stored, settings)
}

/** Where to log in, with what a step-up asks for (the union of scopes, acr_values, max_age). */
async function preparedWith(ctx: LoginContext, stepUp: StepUpLogin | undefined, options?: { forceRegistration?: boolean }): Promise<PreparedLogin> {
  const prepared = await prepareLogin(ctx, { ...options, stepUp: stepUp !== undefined })
  return { ...prepared, settings: withStepUp(prepared.settings, stepUp) }
}

/** A new session, stored, and the one it replaced. */
export interface StoredLogin {
  session: Session
  replaced: Session | undefined
}

export function loginOutcome(ctx: LoginContext, { session, replaced }: StoredLogin, settings: LoginSettings): LoginOutcome {
  return {
    ...sessionStatus(ctx.profile, session),
    refresh_token_missing: hasScope(settings.scope, 'offline_access') && !session.refreshToken,
    replaced_account: replaced && !sameAccount(replaced, session) ? accountOf(replaced) : null,
  }
}

function sameAccount(a: Session, b: Session): boolean {
  return sameIssuer(a.issuer, b.issuer) && a.user.sub === b.user.sub
}

function accountOf(session: Session): AccountSummary {
  return { issuer: session.issuer, subject: session.user.sub ?? null, email: session.user.email ?? null, name: session.user.name ?? null }
}

/**
 * The profile's session before this login (for the login hint). Storage the session could not go
 * to (a directory of another user's) fails the login before the browser opens; an unreadable old
 * session is no obstacle: the login replaces it.
 */
export async function storedSessionBefore(ctx: LoginContext): Promise<Session | undefined> {
  return ctx.store.readSession(ctx.profile).catch((error: unknown) => {
    if (!(error instanceof SessionFileError)) throw error
    return undefined
  })
}

/**
 * `login_hint`: the one given, else, on a new login to the same OpenID provider, the profile's
 * email (the account most likely meant), except when `prompt` says the user wants to pick again.
 */
export function withLoginHint(settings: LoginSettings, previous: Session | undefined): LoginSettings {
  if (settings.loginHint) return settings
  const prompts = (settings.prompt ?? '').split(' ')
  if (prompts.includes('login') || prompts.includes('select_account')) return settings
  const email = previous?.user.email
  if (!email || !hasScope(settings.scope, 'openid') || !sameIssuer(previous.issuer, settings.issuer)) return settings
  return { ...settings, loginHint: email }
}

async function browserLogin(ctx: LoginContext, cached: CachedProvider, settings: LoginSettings): Promise<StoredLogin> {
  const [{ newAttempt, authorizationRequest }, { startCallbackServer }, { defaultPages }] = await Promise.all([
    import('../protocol/authorize.ts'),
    import('../loopback/server.ts'),
    import('../loopback/pages.ts'),
  ])
  const pages: LoginPages = ctx.options.pages ?? defaultPages
  const { displayName } = ctx.app
  const attempt = await newAttempt({ dpop: await dpopForLogin(ctx, cached.config, settings) })
  ctx.throwIfCancelled()
  const server = await startCallbackServer({
    redirectHost: settings.redirectHost,
    port: settings.port,
    portAttempts: settings.portAttempts,
    path: settings.redirectPath,
    state: attempt.state,
    pages,
    displayName,
  })
  ctx.debug(`loopback server: listening for ${server.redirectUri}`)
  try {
    const { url } = await authorizationRequest(cached.config, attempt, { ...settings, redirectUri: server.redirectUri }, { par: settings.par, debug: (line) => ctx.debug(line) })
    const browser = await (await ctx.browserOpener())(url.href)
    ctx.debug(`browser: ${browser.opened ? `started ${browser.command}` : `not started (${browser.reason})`}`)
    ctx.options.onAuthorizationUrl?.({ url: url.href, redirectUri: server.redirectUri, browser })
    // Revalidated while the user is in the browser, not before the browser opens.
    const revalidated = cached.revalidate?.()
    const callbackUrl = await waitForAnswer(ctx, (signal) => redirectOrPasted(ctx, server, signal), settings.timeoutS)
    ctx.debug('loopback server: answer received')
    const provider = (await revalidated) ?? cached.config
    let stored: StoredLogin
    try {
      stored = await redeemAndStore(ctx, provider, settings, attempt, server.redirectUri, callbackUrl)
    } catch (error) {
      const { status, info } = failurePageFor(error)
      await server.respond(status, pages.failure({ displayName, ...info })).catch(() => {})
      throw error
    }
    // The replaced refresh token is revoked while the success page goes out (the new session is
    // already stored): the user sees the page at once and the exit waits for neither longer than needed.
    const { session, replaced } = stored
    const revocation = revokeReplaced(ctx, replaced, session, provider)
    await server.respond(200, pages.success({ displayName, issuer: settings.issuer, ...session.user, subject: session.user.sub }))
    await revocation
    return stored
  } finally {
    server.close()
  }
}

/**
 * The redirect, or the address the user pastes (`pastedAddresses`), whichever is this attempt's
 * answer first: both go through the loopback server's checks.
 */
async function redirectOrPasted(ctx: LoginContext, server: CallbackServer, signal: AbortSignal): Promise<URL> {
  const pasted = ctx.options.pastedAddresses
  if (!pasted) return server.waitForCallback(signal)
  const done = new AbortController()
  const reading = AbortSignal.any([signal, done.signal])
  void (async () => {
    for await (const line of pasted(reading)) {
      if (reading.aborted) return
      if (line.trim() === '') continue
      const verdict = server.submitPasted(line)
      if (verdict === 'callback') return
      ctx.debug(`pasted address: not taken (${verdict})`)
      ctx.options.onPastedAddressRejected?.({ verdict, message: pastedAddressProblem(verdict, server.redirectUri) })
    }
  })().catch((error: unknown) => ctx.debug(`pasted address: reading stopped (${error instanceof Error ? error.message : String(error)})`))
  try {
    return await server.waitForCallback(signal)
  } finally {
    done.abort()
  }
}

/**
 * The answer checked and its code redeemed (state, `iss`, PKCE, nonce: openid-client), who logged
 * in, and the session stored: the same for a redirect, a pasted address and a finished pending login.
 */
export async function redeemAndStore(
  ctx: LoginContext,
  provider: client.Configuration,
  settings: LoginSettings,
  attempt: AuthorizationAttempt,
  redirectUri: string,
  callbackUrl: URL,
): Promise<StoredLogin> {
  const { exchangeCode } = await import('../protocol/authorize.ts')
  if (settings.endpoints) acceptOriginAsIssuer(callbackUrl, settings.issuer)
  const nonces: Record<string, string> = {}
  const exchange = (a: AuthorizationAttempt) => exchangeCode(provider, callbackUrl, a, redirectUri, idTokenExpected(settings), ctx.app.loginCommand, settings.resource, settings.maxAge, nonces)
  let used = attempt
  let tokens
  try {
    tokens = await exchange(used)
  } catch (error) {
    // `auto`: a token endpoint that wants a proof (RFC 9449 §7) gets one; the code is still unspent.
    if (used.dpopKey || settings.dpop !== 'auto' || !(error instanceof ProviderError) || !wantsProof(error)) throw error
    ctx.debug(`dpop: the token endpoint asked for a proof (${error.error}); binding the session to a new key`)
    const { newDpopKey } = await import('../protocol/dpop.ts')
    used = { ...attempt, dpopKey: await newDpopKey() }
    tokens = await exchange(used)
  }
  await rememberJwks(ctx, provider)
  const signer = await loginSigner(provider, used, nonces)
  const session = await withUserinfo(ctx, provider, sessionFromTokens(tokens, { ...sessionBase(settings), ...dpopFields(used, signer?.nonces ?? nonces) }, ctx.nowS()), settings.scope, signer)
  const replaced = await storeNewSession(ctx, session, settings)
  return { session, replaced }
}

/** The device authorization grant (RFC 8628): the user enters a code on any device with a browser. */
async function deviceLogin(ctx: LoginContext, cached: CachedProvider, settings: LoginSettings): Promise<StoredLogin> {
  const { startDeviceAuthorization, pollDeviceAuthorization } = await import('../protocol/device.ts')
  const provider = (await cached.revalidate?.()) ?? cached.config
  const attempt: Pick<AuthorizationAttempt, 'dpopKey'> = {}
  if (await dpopForLogin(ctx, provider, settings)) attempt.dpopKey = await (await import('../protocol/dpop.ts')).newDpopKey()
  let signer = await loginSigner(provider, attempt, {})
  const authorization = await startDeviceAuthorization(provider, settings)
  const url = authorization.verification_uri_complete ?? authorization.verification_uri
  const browser: BrowserOpenResult = isSafeToOpen(url)
    ? await (await ctx.browserOpener())(url)
    : { opened: false, reason: 'failed', detail: 'the verification URI is neither https nor http on loopback, so it is not opened' }
  ctx.options.onDeviceCode?.({
    verificationUri: authorization.verification_uri,
    verificationUriComplete: authorization.verification_uri_complete,
    userCode: authorization.user_code,
    expiresInS: authorization.expires_in,
    browser,
  })
  const poll = (signal: AbortSignal) =>
    pollDeviceAuthorization(provider, authorization, signal, ctx.app.loginCommand, settings.resource, signer).catch(async (error: unknown) => {
      // `auto`: a token endpoint that wants a proof gets one (the device code is still unspent).
      if (attempt.dpopKey || settings.dpop !== 'auto' || !(error instanceof ProviderError) || !wantsProof(error)) throw error
      ctx.debug(`dpop: the token endpoint asked for a proof (${error.error}); binding the session to a new key`)
      attempt.dpopKey = await (await import('../protocol/dpop.ts')).newDpopKey()
      signer = await loginSigner(provider, attempt, {})
      return pollDeviceAuthorization(provider, authorization, signal, ctx.app.loginCommand, settings.resource, signer)
    })
  const tokens = await waitForAnswer(ctx, poll, settings.timeoutS, 'the device login was not approved')
  await rememberJwks(ctx, provider)
  const session = await withUserinfo(ctx, provider, sessionFromTokens(tokens, { ...sessionBase(settings), ...dpopFields(attempt, signer?.nonces ?? {}) }, ctx.nowS()), settings.scope, signer)
  const replaced = await storeNewSession(ctx, session, settings)
  await revokeReplaced(ctx, replaced, session, provider)
  return { session, replaced }
}

/** Long enough for a provider to answer a revocation; a slow one does not hold the login's exit longer. */
const REVOCATION_WAIT_MS = 3000

/** A URL from the provider is opened only over https, or http on this machine's loopback. */
function isSafeToOpen(url: string): boolean {
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || isLoopbackHttp(parsed)
  } catch {
    return false
  }
}

/** Waits for the user, bounded by the timeout and the caller's signal. */
export async function waitForAnswer<T>(ctx: LoginContext, wait: (signal: AbortSignal) => Promise<T>, timeoutS: number, what?: string): Promise<T> {
  const timeout = AbortSignal.timeout(Math.ceil(timeoutS * 1000))
  const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout
  try {
    return await wait(signal)
  } catch (error) {
    if (timeout.aborted) throw new LoginTimeoutError(timeoutS, ctx.app.loginCommand, what)
    throw error // a cancellation by the caller's signal becomes LoginCancelledError in login()
  }
}

/**
 * Stores the new session under the profile's lock and returns the one it replaced (read under the
 * same lock, so a refresh that rotated its refresh token meanwhile is accounted for), whose refresh
 * token the caller then revokes. With rememberSettings, the profile's settings are written too,
 * only when they changed.
 */
export async function storeNewSession(ctx: LoginContext, session: Session, settings: LoginSettings): Promise<Session | undefined> {
  const { store, profile } = ctx
  const replaced = await store.withLock(profile, async () => {
    const previous = await store.readSession(profile).catch(() => undefined)
    await store.writeSession(profile, session)
    return previous
  })
  if (ctx.options.rememberSettings) {
    const remembered = rememberedSettings(settings)
    const before = await store.readSettings(profile).catch(() => undefined)
    if (JSON.stringify(before) !== JSON.stringify(remembered)) await store.writeSettings(profile, remembered)
  }
  return replaced
}

/**
 * A new login replaces the old session: its refresh token is revoked once the new one is stored,
 * waiting at most REVOCATION_WAIT_MS (the old token then expires on its own).
 */
export async function revokeReplaced(ctx: LoginContext, previous: Session | undefined, current: Session, provider: client.Configuration): Promise<void> {
  if (!previous?.refreshToken || previous.refreshToken === current.refreshToken) return
  let timer: NodeJS.Timeout | undefined
  const gaveUp = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      ctx.debug(`revocation of the replaced refresh token: no answer within ${REVOCATION_WAIT_MS} ms; it expires on its own`)
      resolve()
    }, REVOCATION_WAIT_MS)
    timer.unref()
  })
  await Promise.race([revokePrevious(ctx, previous, previous.refreshToken, current, provider), gaveUp])
  clearTimeout(timer)
}

async function revokePrevious(ctx: LoginContext, previous: Session, refreshToken: string, current: Session, provider: client.Configuration): Promise<void> {
  try {
    const sameProvider = sameIssuer(previous.issuer, current.issuer) && previous.clientId === current.clientId
    const config = sameProvider ? provider : await discover(ctx, previous, { cache: false })
    const { revokeRefreshToken } = await import('../protocol/revoke.ts')
    const { sessionSigner } = await import('../protocol/dpop.ts')
    const revoked = await revokeRefreshToken(config, refreshToken, await sessionSigner(config, previous))
    ctx.debug(`revocation of the replaced refresh token: ${revoked ? 'done' : 'no revocation endpoint'}`)
  } catch (error) {
    // The old token expires on its own; the new login has succeeded either way.
    ctx.debug(`revocation of the replaced refresh token failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}

export function sessionBase(settings: LoginSettings): SessionBase {
  return {
    issuer: settings.issuer,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    audience: settings.audience,
    organization: settings.organization,
    requestedScope: settings.scope,
    resource: settings.resource,
    resourceUrl: settings.resourceUrl,
    endpoints: settings.endpoints,
    registration: settings.registration,
  }
}

function rememberedSettings(settings: LoginSettings): ProfileSettings {
  const { issuer, clientId, audience, scope, organization, port, portAttempts, redirectHost, redirectPath, device, endpoints, registration } = settings
  // `auto` is the default: only a choice made is remembered.
  const dpop = settings.dpop === 'auto' ? undefined : settings.dpop
  const par = settings.par === 'auto' ? undefined : settings.par
  // The resource as given: a later login finds its authorization server again from it.
  const resource = settings.resourceUrl ?? settings.resource
  const resourceDiscovery = settings.resourceUrl !== undefined ? true : undefined
  return JSON.parse(JSON.stringify({ issuer, clientId, audience, scope, organization, port, portAttempts, redirectHost, redirectPath, device, resource, resourceDiscovery, endpoints, registration, dpop, par })) as ProfileSettings
}

/** An ID token is expected when `openid` was asked for, from a server with metadata (a JWKS to verify it with). */
function idTokenExpected(settings: LoginSettings): boolean {
  return hasScope(settings.scope, 'openid') && !settings.endpoints
}

/**
 * Who logged in: the ID token's claims, and the userinfo endpoint's for what they lack (OIDC Core
 * 5.4 lets a provider give `profile` and `email` claims only there) — asked when the login asked
 * for those scopes, or always without an ID token (plain OAuth 2). The answer is kept in the
 * session (status shows it without asking again); a provider that does not answer names no one more.
 * Not asked with a token made for another resource (RFC 8707: its audience is that API, not the
 * authorization server's userinfo).
 */
async function withUserinfo(ctx: LoginContext, provider: client.Configuration, session: Session, scope: string, signer?: DpopSigner): Promise<Session> {
  if (session.resource || !provider.serverMetadata().userinfo_endpoint) return session
  const lacking = !session.idToken || (!session.user.name && hasScope(scope, 'profile')) || (!session.user.email && hasScope(scope, 'email'))
  if (!lacking) return session
  try {
    const { fetchUserinfo } = await import('../protocol/userinfo.ts')
    const info = await fetchUserinfo(provider, session.accessToken, session.user.sub, signer)
    const pick = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : undefined)
    const fromUserinfo = Object.fromEntries(Object.entries({ sub: pick('sub'), email: pick('email'), name: pick('name') }).filter(([, v]) => v !== undefined))
    // The ID token's claims win; userinfo fills in what they lack.
    return { ...session, user: { ...fromUserinfo, ...session.user } }
  } catch (error) {
    ctx.debug(`userinfo: ${error instanceof Error ? error.message : String(error)}`)
    return session
  }
}

/**
 * Whether this login binds its session to a DPoP key (RFC 9449): `dpop: true`, or `auto` when the
 * protected resource wants it. Refused before the browser opens when the server cannot bind to ES256.
 */
export async function dpopForLogin(ctx: LoginContext, provider: client.Configuration, settings: LoginSettings): Promise<boolean> {
  const on = settings.dpop === true || (settings.dpop === 'auto' && settings.dpopRequired === true)
  if (!on) return false
  const { assertDpopSupported } = await import('../protocol/dpop.ts')
  assertDpopSupported(provider.serverMetadata())
  ctx.debug(`dpop: binding the session to a new key (${settings.dpop === true ? 'asked for' : 'the resource requires it'})`)
  return true
}

/** Whether the token endpoint's error asks for a DPoP proof. */
function wantsProof(error: ProviderError): boolean {
  return error.error === 'invalid_dpop_proof' || error.error === 'use_dpop_nonce'
}

/** The login's signer (openid-client's handle on its key), for the requests after the code exchange (userinfo). */
async function loginSigner(provider: client.Configuration, attempt: Pick<AuthorizationAttempt, 'dpopKey'>, nonces: Record<string, string>): Promise<DpopSigner | undefined> {
  if (!attempt.dpopKey) return undefined
  const { dpopSigner } = await import('../protocol/dpop.ts')
  return dpopSigner(provider, attempt.dpopKey.privateJwk, nonces)
}

/** What a DPoP login keeps in its session: the key (a secret), its thumbprint, the nonces. */
function dpopFields(attempt: Pick<AuthorizationAttempt, 'dpopKey'>, nonces: Record<string, string>): Pick<Session, 'dpopKey' | 'jkt' | 'dpopNonces'> {
  if (!attempt.dpopKey) return {}
  return { dpopKey: attempt.dpopKey.privateJwk, jkt: attempt.dpopKey.jkt, ...(Object.keys(nonces).length > 0 ? { dpopNonces: { ...nonces } } : {}) }
}

function failurePageFor(error: unknown): { status: number; info: { error: string; errorDescription?: string } } {
  if (error instanceof AuthorizationError) return { status: 200, info: { error: error.error, errorDescription: error.errorDescription } }
  if (error instanceof CallbackValidationError) return { status: 400, info: { error: 'invalid_callback', errorDescription: error.message } }
  if (error instanceof ProviderError) return { status: 502, info: { error: error.error ?? 'token_exchange_failed', errorDescription: error.message } }
  return { status: 500, info: { error: 'login_failed', errorDescription: error instanceof CliLoginError ? error.message : 'the session could not be stored' } }
}

/**
 * A server without metadata has no issuer identifier of its own but may still send `iss`
 * (RFC 9207): its origin, with or without the trailing slash, is the issuer we know it by.
 */
function acceptOriginAsIssuer(callbackUrl: URL, issuer: string): void {
  const iss = callbackUrl.searchParams.get('iss')
  if (iss !== null && sameIssuer(iss, issuer)) callbackUrl.searchParams.set('iss', issuer)
}
