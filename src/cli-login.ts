import type * as client from 'openid-client'
import {
  AuthorizationError,
  CallbackValidationError,
  CliLoginError,
  LoginCancelledError,
  LoginRequiredError,
  LoginTimeoutError,
  ProviderError,
  SessionExpiredError,
  SessionFileError,
} from './errors.ts'
import { DEFAULTS, hasScope, issuerFrom, resolveLoginSettings, sameIssuer, type LoginSettings, type LoginSettingsInput } from './options.ts'
import { defaultSystem, nowSeconds, type System } from './system.ts'
import { FileSessionStore, type SessionStore } from './session/file-store.ts'
import { createProviderFetch } from './net/provider-fetch.ts'
import { assertProfileName, resolveHome } from './session/paths.ts'
import { accessTokenOf, isFresh, isSessionExpired, sessionStatus, type AccessToken, type ProfileSettings, type Session, type SessionStatus } from './session/session.ts'
import type { BrowserOpenResult, OpenBrowser } from './browser/open-browser.ts'
import type { LoginPages } from './loopback/pages.ts'

export interface CliLoginOptions extends LoginSettingsInput {
  /** Which stored session to use (default "default"). */
  profile?: string
  /** Where sessions live (default: CLI_LOGIN_HOME, $XDG_CONFIG_HOME/cli-login, ~/.config/cli-login). */
  home?: string
  /** `getAccessToken()` refreshes when fewer seconds than this are left (default 60). */
  minTtlS?: number
  /** Only print the URL: never start a browser. */
  noBrowser?: boolean
  /** Replaces the browser launcher (default: BROWSER, else the platform's opener, except when headless). */
  openBrowser?: OpenBrowser
  /** Replaces the pages shown in the browser after the redirect. */
  pages?: LoginPages
  /** Replaces where sessions are stored. */
  store?: SessionStore
  /** Used for every request to the provider. */
  fetch?: typeof fetch
  /** Environment, platform and clock (tests pass their own). */
  system?: Partial<System>
  /** Told the authorization URL and whether a browser was started, so a CLI can print it. */
  onAuthorizationUrl?: (event: AuthorizationUrlEvent) => void
  /** Told the codes of a device login (`device: true`), so a CLI can print them. */
  onDeviceCode?: (event: DeviceCodeEvent) => void
  /** Ends a login in progress (the CLI aborts it on Ctrl-C). */
  signal?: AbortSignal
}

export interface AuthorizationUrlEvent {
  url: string
  redirectUri: string
  browser: BrowserOpenResult
}

export interface DeviceCodeEvent {
  verificationUri: string
  verificationUriComplete?: string
  userCode: string
  expiresInS: number
  browser: BrowserOpenResult
}

export interface GetAccessTokenOptions {
  minTtlS?: number
  forceRefresh?: boolean
}

export interface LoginResult extends SessionStatus {
  /** offline_access was asked for but the provider issued no refresh token. */
  refresh_token_missing: boolean
}

export interface LogoutOptions {
  /** Also open the provider's end-session URL in the browser. */
  endBrowserSession?: boolean
}

export interface LogoutResult {
  /** There was a session (or an unreadable session file) and it is gone. */
  deleted: boolean
  /** The refresh token was revoked at the provider. */
  revoked: boolean
  /** Why revocation could not be done, when it failed. */
  revocationError?: CliLoginError
  /** What happened when the end-session URL was to be opened. */
  endSession?: BrowserOpenResult | { opened: false; reason: 'unsupported' | 'no-issuer' }
}

/**
 * Logs a CLI's user in through the browser with an OAuth 2.0 / OpenID Connect provider and keeps
 * the session alive. This is the library's composition root: it resolves options, then hands the
 * work to the protocol, loopback, browser and session modules, loading each only when needed.
 */
export class CliLogin {
  readonly profile: string
  private readonly options: CliLoginOptions
  private readonly system: System
  private readonly store: SessionStore
  private lastRead?: { signature: string; session: Session }
  private fetchForProvider?: typeof fetch

  constructor(options: CliLoginOptions = {}) {
    this.options = options
    this.system = defaultSystem(options.system)
    this.profile = options.profile ?? DEFAULTS.profile
    assertProfileName(this.profile)
    this.store = options.store ?? new FileSessionStore(resolveHome(options.home, this.system.env, this.system.platform))
  }

  /** The browser login (or the device flow with `device: true`); resolves once the session is stored. */
  async login(): Promise<LoginResult> {
    // A broken settings file only loses what the profile remembers: the login writes a new one.
    const remembered = await this.store.readSettings(this.profile).catch((error: unknown) => {
      if (error instanceof SessionFileError) return {}
      throw error
    })
    const settings = resolveLoginSettings(this.options, remembered)
    let session: Session
    try {
      const provider = await this.cachedProvider(settings)
      this.throwIfCancelled()
      session = settings.device ? await this.deviceLogin(provider, settings) : await this.browserLogin(provider, settings)
    } catch (error) {
      // Whatever was under way when the caller cancelled (discovery, the exchange) ends as a cancellation.
      if (this.options.signal?.aborted) throw cancellation(this.options.signal)
      throw error
    }
    return {
      ...sessionStatus(this.profile, session),
      refresh_token_missing: hasScope(settings.scope, 'offline_access') && !session.refreshToken,
    }
  }

  /** A valid access token: the stored one, or a refreshed one when it expires within minTtlS. Never opens a browser. */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<AccessToken> {
    const session = await this.readUsableSession(true)
    if (isSessionExpired(session)) throw new SessionExpiredError(this.profile)
    const minTtlS = options.minTtlS ?? this.options.minTtlS ?? DEFAULTS.minTtlS
    const fresh = !options.forceRefresh && isFresh(session, nowSeconds(this.system), minTtlS)
    const current = fresh ? session : await this.refresh(session)
    return accessTokenOf(current)
  }

  /** Who is logged in on this profile, or undefined. `session_expired`: the provider rejected the refresh token. */
  async status(): Promise<(SessionStatus & { session_expired: boolean }) | undefined> {
    const session = await this.store.readSession(this.profile)
    return session && { ...sessionStatus(this.profile, session), session_expired: isSessionExpired(session) }
  }

  /** The profiles that have a stored session. */
  async listProfiles(): Promise<string[]> {
    return this.store.listProfiles()
  }

  /** Revokes the refresh token at the provider (when it can) and deletes the stored session. */
  async logout(options: LogoutOptions = {}): Promise<LogoutResult> {
    const result: LogoutResult = { deleted: false, revoked: false }
    // Read and delete under the lock, so a refresh in another process cannot rotate the refresh
    // token between our reading it and deleting it: the token revoked is the last one there was.
    // (The first look, without the lock, spares a profile with nothing stored a lock file and dirs.)
    const { session } = (await this.readSessionOrBroken()).present
      ? await this.store.withLock(this.profile, async () => {
          const found = await this.readSessionOrBroken()
          if (found.present) result.deleted = await this.store.deleteSession(this.profile)
          return found
        })
      : { session: undefined }
    let provider: client.Configuration | undefined
    const remembered = await this.store.readSettings(this.profile).catch(() => ({}) as ProfileSettings)
    const issuer = session?.issuer ?? issuerFrom(this.options) ?? remembered.issuer
    const clientId = session?.clientId ?? this.options.clientId ?? remembered.clientId ?? ''
    if (session?.refreshToken || options.endBrowserSession) {
      try {
        if (issuer) provider = await this.discover({ issuer, clientId, clientSecret: session?.clientSecret }, { cache: sameIssuer(issuer, remembered.issuer ?? issuer) })
        if (provider && session?.refreshToken) {
          const { revokeRefreshToken } = await import('./protocol/revoke.ts')
          result.revoked = await revokeRefreshToken(provider, session.refreshToken)
        }
      } catch (error) {
        result.revocationError = error instanceof CliLoginError ? error : new ProviderError('PROVIDER_ERROR', String(error), { cause: error })
      }
    }
    if (options.endBrowserSession) {
      result.endSession = !issuer
        ? { opened: false, reason: 'no-issuer' }
        : await this.openEndSession(provider, session?.idToken, clientId)
    }
    return result
  }

  /** The stored session; `present` also when the file is there but unreadable (logout deletes it all the same). */
  private async readSessionOrBroken(): Promise<{ present: boolean; session?: Session }> {
    try {
      const session = await this.store.readSession(this.profile)
      return { present: session !== undefined, session }
    } catch (error) {
      if (error instanceof SessionFileError) return { present: true }
      throw error
    }
  }

  private async openEndSession(provider: client.Configuration | undefined, idToken: string | undefined, clientId: string): Promise<LogoutResult['endSession']> {
    if (!provider) return { opened: false, reason: 'failed', detail: 'the provider could not be reached' }
    const { endSessionUrl } = await import('./protocol/revoke.ts')
    const url = endSessionUrl(provider, { idToken, clientId })
    if (!url) return { opened: false, reason: 'unsupported' }
    return (await this.browserOpener())(url.href)
  }

  /**
   * The stored session. With `fromMemory`, the copy read last time is reused while the file is
   * unchanged (a stat, no read): getAccessToken() in a long-running process costs microseconds.
   */
  private async readUsableSession(fromMemory = false): Promise<Session> {
    const signature = fromMemory ? this.store.sessionSignature?.(this.profile) : undefined
    let session: Session | undefined
    if (signature !== undefined && this.lastRead?.signature === signature) {
      session = this.lastRead.session
    } else {
      session = await this.store.readSession(this.profile)
      this.lastRead = signature !== undefined && session ? { signature, session } : undefined
    }
    if (!session) throw new LoginRequiredError(this.profile)
    const { clientId } = this.options
    const issuer = issuerFrom(this.options)
    if ((issuer && !sameIssuer(issuer, session.issuer)) || (clientId && clientId !== session.clientId)) {
      throw new LoginRequiredError(this.profile, `the session of profile "${this.profile}" is for another issuer or client: run cli-login login`)
    }
    return session
  }

  /** One refresh at a time per profile, across processes: whoever waited re-reads and uses the token the other stored. */
  private async refresh(seen: Session): Promise<Session> {
    if (!seen.refreshToken) {
      throw new LoginRequiredError(this.profile, `the access token of profile "${this.profile}" has expired and there is no refresh token: run cli-login login`)
    }
    // A token another process refreshed meanwhile is taken as long as it is still valid at all: when
    // the provider issues tokens shorter-lived than minTtlS, refreshing again would not help.
    const refreshedMeanwhile = (current: Session | undefined) =>
      current !== undefined && current.accessToken !== seen.accessToken && isFresh(current, nowSeconds(this.system), 0)
    return this.store.withLock(this.profile, async () => {
      const current = await this.readUsableSession()
      if (refreshedMeanwhile(current)) return current
      if (isSessionExpired(current)) throw new SessionExpiredError(this.profile)
      if (!current.refreshToken) throw new LoginRequiredError(this.profile)
      const { config } = await this.cachedProvider(current)
      const { refreshTokens } = await import('./protocol/refresh.ts')
      const { refreshedSession } = await import('./protocol/tokens.ts')
      let tokens
      try {
        tokens = await refreshTokens(config, current.refreshToken, this.profile)
      } catch (error) {
        if (error instanceof SessionExpiredError) await this.markExpired(current)
        if (error instanceof ProviderError) await this.forgetProviderCache()
        throw error
      }
      const next = refreshedSession(current, tokens, nowSeconds(this.system))
      await this.store.writeSession(this.profile, next)
      return next
    }, async () => {
      // While another process refreshes: take its token as soon as it is stored, without the lock.
      const current = await this.store.readSession(this.profile).catch(() => undefined)
      return refreshedMeanwhile(current) ? current : undefined
    })
  }

  /** Remembers that the provider rejected the refresh token, so status says so and token fails fast. */
  private async markExpired(session: Session): Promise<void> {
    const { refreshToken: _dropped, ...rest } = session
    await this.store.writeSession(this.profile, { ...rest, refreshRejectedAt: nowSeconds(this.system) }).catch(() => {})
  }

  /** Discovery; the metadata is cached for the profile unless it is another issuer's (`cache: false`). */
  private async discover(settings: ProviderSettings, { cache = true } = {}): Promise<client.Configuration> {
    const { discoverProvider } = await import('./protocol/provider.ts')
    const config = await discoverProvider({ ...settings, fetch: this.providerFetch() })
    if (cache) {
      const entry = { issuer: settings.issuer, fetchedAt: nowSeconds(this.system), metadata: { ...config.serverMetadata() } }
      await this.store.writeProviderCache?.(this.profile, entry).catch(() => {})
    }
    return config
  }

  /**
   * The provider's configuration from the metadata this profile cached within a day (no request),
   * else discovered. With the cache, `revalidate()` runs discovery again: a login starts it once the
   * browser is open and awaits it before redeeming the code (by then the user has long finished).
   * A refresh does without it.
   */
  private async cachedProvider(settings: ProviderSettings): Promise<CachedProvider> {
    const entry = await this.store.readProviderCache?.(this.profile)
    const recent = entry && sameIssuer(entry.issuer, settings.issuer) && nowSeconds(this.system) - entry.fetchedAt < PROVIDER_CACHE_MAX_AGE_S
    if (!recent) return { config: await this.discover(settings) }
    const { configurationFromMetadata } = await import('./protocol/provider.ts')
    const config = configurationFromMetadata({ ...settings, fetch: this.providerFetch() }, entry.metadata as client.ServerMetadata)
    return { config, revalidate: () => this.discover(settings).catch(() => undefined) }
  }

  /** After a provider error on cached metadata, the next call discovers again. */
  private async forgetProviderCache(): Promise<void> {
    const entry = await this.store.readProviderCache?.(this.profile)
    if (entry) await this.store.writeProviderCache?.(this.profile, { ...entry, fetchedAt: 0 }).catch(() => {})
  }

  /** One fetch for every provider request of this instance; the caller's signal (Ctrl-C) aborts them all. */
  private providerFetch(): typeof fetch {
    if (this.fetchForProvider) return this.fetchForProvider
    const base = this.options.fetch ?? this.system.fetch ?? createProviderFetch(this.system.env)
    const cancel = this.options.signal
    this.fetchForProvider = !cancel ? base : (input, init) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, cancel]) : cancel })
    return this.fetchForProvider
  }

  /** Ends a login at the next step once the caller's signal has fired. */
  private throwIfCancelled(): void {
    if (this.options.signal?.aborted) throw cancellation(this.options.signal)
  }

  private async browserOpener(): Promise<OpenBrowser> {
    if (this.options.openBrowser) {
      const open = this.options.openBrowser
      return (url) => (this.options.noBrowser ? Promise.resolve({ opened: false, reason: 'disabled' }) : open(url))
    }
    const { createBrowserOpener } = await import('./browser/open-browser.ts')
    return createBrowserOpener({ env: this.system.env, platform: this.system.platform, disabled: this.options.noBrowser })
  }

  private async browserLogin(cached: CachedProvider, settings: LoginSettings): Promise<Session> {
    const [{ newAttempt, buildAuthorizationUrl, exchangeCode }, { startCallbackServer }, { defaultPages }, { sessionFromTokens }] =
      await Promise.all([
        import('./protocol/authorize.ts'),
        import('./loopback/server.ts'),
        import('./loopback/pages.ts'),
        import('./protocol/tokens.ts'),
      ])
    const pages = this.options.pages ?? defaultPages
    const attempt = await newAttempt()
    this.throwIfCancelled()
    const server = await startCallbackServer({
      redirectHost: settings.redirectHost,
      port: settings.port,
      portAttempts: settings.portAttempts,
      path: settings.redirectPath,
      state: attempt.state,
      pages,
    })
    try {
      const url = buildAuthorizationUrl(cached.config, attempt, { ...settings, redirectUri: server.redirectUri })
      const browser = await (await this.browserOpener())(url.href)
      this.options.onAuthorizationUrl?.({ url: url.href, redirectUri: server.redirectUri, browser })
      // Revalidated while the user is in the browser, not before the browser opens.
      const revalidated = cached.revalidate?.()
      const callbackUrl = await this.waitForAnswer((signal) => server.waitForCallback(signal), settings.timeoutS)
      const provider = (await revalidated) ?? cached.config
      let session: Session
      let replaced: Session | undefined
      try {
        const tokens = await exchangeCode(provider, callbackUrl, attempt, server.redirectUri, hasScope(settings.scope, 'openid'))
        session = sessionFromTokens(tokens, sessionBase(settings), nowSeconds(this.system))
        replaced = await this.storeNewSession(session, settings)
      } catch (error) {
        const { status, info } = failurePageFor(error)
        await server.respond(status, pages.failure(info)).catch(() => {})
        throw error
      }
      await server.respond(200, pages.success({ issuer: settings.issuer, ...session.user, subject: session.user.sub }))
      await this.revokeReplaced(replaced, session, provider)
      return session
    } finally {
      server.close()
    }
  }

  /** The device authorization grant (RFC 8628): the user enters a code on any device with a browser. */
  private async deviceLogin(cached: CachedProvider, settings: LoginSettings): Promise<Session> {
    const [{ startDeviceAuthorization, pollDeviceAuthorization }, { sessionFromTokens }] = await Promise.all([
      import('./protocol/device.ts'),
      import('./protocol/tokens.ts'),
    ])
    const provider = (await cached.revalidate?.()) ?? cached.config
    const authorization = await startDeviceAuthorization(provider, settings)
    const url = authorization.verification_uri_complete ?? authorization.verification_uri
    const browser = await (await this.browserOpener())(url)
    this.options.onDeviceCode?.({
      verificationUri: authorization.verification_uri,
      verificationUriComplete: authorization.verification_uri_complete,
      userCode: authorization.user_code,
      expiresInS: authorization.expires_in,
      browser,
    })
    const tokens = await this.waitForAnswer((signal) => pollDeviceAuthorization(provider, authorization, signal), settings.timeoutS, 'the device login was not approved')
    const session = sessionFromTokens(tokens, sessionBase(settings), nowSeconds(this.system))
    const replaced = await this.storeNewSession(session, settings)
    await this.revokeReplaced(replaced, session, provider)
    return session
  }

  /** Waits for the user, bounded by the timeout and the caller's signal. */
  private async waitForAnswer<T>(wait: (signal: AbortSignal) => Promise<T>, timeoutS: number, what?: string): Promise<T> {
    const timeout = AbortSignal.timeout(Math.ceil(timeoutS * 1000))
    const signal = this.options.signal ? AbortSignal.any([timeout, this.options.signal]) : timeout
    try {
      return await wait(signal)
    } catch (error) {
      if (timeout.aborted) throw new LoginTimeoutError(timeoutS, what)
      throw error // a cancellation by the caller's signal becomes LoginCancelledError in login()
    }
  }

  /**
   * Stores the new session under the profile's lock and returns the one it replaced (read under the
   * same lock, so a refresh that rotated its refresh token meanwhile is accounted for), whose refresh
   * token the caller then revokes. The profile's settings are written only when they changed.
   */
  private async storeNewSession(session: Session, settings: LoginSettings): Promise<Session | undefined> {
    const replaced = await this.store.withLock(this.profile, async () => {
      const previous = await this.store.readSession(this.profile).catch(() => undefined)
      await this.store.writeSession(this.profile, session)
      return previous
    })
    const remembered = rememberedSettings(settings)
    const before = await this.store.readSettings(this.profile).catch(() => undefined)
    if (JSON.stringify(before) !== JSON.stringify(remembered)) await this.store.writeSettings(this.profile, remembered)
    return replaced
  }

  /** A new login replaces the old session: its refresh token is revoked once the new one is stored. */
  private async revokeReplaced(previous: Session | undefined, current: Session, provider: client.Configuration): Promise<void> {
    if (!previous?.refreshToken || previous.refreshToken === current.refreshToken) return
    try {
      const sameProvider = sameIssuer(previous.issuer, current.issuer) && previous.clientId === current.clientId
      const config = sameProvider ? provider : await this.discover(previous, { cache: false })
      const { revokeRefreshToken } = await import('./protocol/revoke.ts')
      await revokeRefreshToken(config, previous.refreshToken)
    } catch {
      // The old token expires on its own; the new login has succeeded either way.
    }
  }
}

const PROVIDER_CACHE_MAX_AGE_S = 24 * 60 * 60

/** The caller's reason when it is one of ours (the CLI aborts with LoginCancelledError), else LoginCancelledError. */
function cancellation(signal: AbortSignal): CliLoginError {
  const reason: unknown = signal.reason
  return reason instanceof CliLoginError ? reason : new LoginCancelledError()
}

type ProviderSettings = Pick<LoginSettings, 'issuer' | 'clientId' | 'clientSecret'>
interface CachedProvider {
  config: client.Configuration
  revalidate?: () => Promise<client.Configuration | undefined>
}

function sessionBase(settings: LoginSettings) {
  return {
    issuer: settings.issuer,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    audience: settings.audience,
    organization: settings.organization,
    requestedScope: settings.scope,
  }
}

function rememberedSettings(settings: LoginSettings): ProfileSettings {
  const { issuer, clientId, audience, scope, organization, port, portAttempts, redirectHost, redirectPath, device } = settings
  return { issuer, clientId, audience, scope, organization, port, portAttempts, redirectHost, redirectPath, device }
}

function failurePageFor(error: unknown): { status: number; info: { error: string; errorDescription?: string } } {
  if (error instanceof AuthorizationError) return { status: 200, info: { error: error.error, errorDescription: error.errorDescription } }
  if (error instanceof CallbackValidationError) return { status: 400, info: { error: 'invalid_callback', errorDescription: error.message } }
  if (error instanceof ProviderError) return { status: 502, info: { error: error.error ?? 'token_exchange_failed', errorDescription: error.message } }
  return { status: 500, info: { error: 'login_failed', errorDescription: error instanceof CliLoginError ? error.message : 'the session could not be stored' } }
}

