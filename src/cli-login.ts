import { resolveAppIdentity, defaultHome, type AppIdentity } from './app.ts'
import { combineSignals, createContext, type LoginContext, type SessionMemory } from './context.ts'
import type { AuthFetchInit, CallOptions, CliLoginOptions, GetAccessTokenOptions, LoginOptions, LoginResult, LogoutOptions, LogoutResult, PendingLoginStart, ProfileStatus, StatusResult } from './library-options.ts'
import { callbackUrls, DEFAULTS, resolveRedirectSettings } from './options.ts'
import { ProfileNotFoundError, StorageError, UsageError } from './errors.ts'
import { readDefaultProfile } from './session/home-config.ts'
import { FileSessionStore, type SessionStore } from './session/file-store.ts'
import { KeychainSessionStore, STORAGE_MODES } from './session/keychain-store.ts'
import { assertProfileName } from './session/paths.ts'
import { isSessionExpired, sessionStatus, type AccessToken } from './session/session.ts'
import { defaultSystem, type System } from './system.ts'
import type { LoginOutcome } from './flows/login.ts'

/**
 * Each use case is loaded on its first call and kept: a dynamic import per call would cost a
 * long-running process's getAccessToken() most of its time (module resolution, loader hooks).
 */
const flows = {
  login: once(() => import('./flows/login.ts')),
  machineLogin: once(() => import('./flows/machine-login.ts')),
  twoStepLogin: once(() => import('./flows/two-step-login.ts')),
  accessToken: once(() => import('./flows/access-token.ts')),
  stepUp: once(() => import('./flows/step-up.ts')),
  fetch: once(() => import('./flows/authenticated-fetch.ts')),
  userinfo: once(() => import('./flows/userinfo.ts')),
  logout: once(() => import('./flows/logout.ts')),
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined
  return () => (loaded ??= load())
}

/**
 * Logs a CLI's user in through the browser with an OAuth 2.0 / OpenID Connect provider and keeps
 * the session alive, in the embedding tool's name. A thin façade: it turns the options into a
 * context per call and hands the work to one module per use case (flows/), loaded when needed.
 */
export class CliLogin {
  readonly profile: string
  readonly app: AppIdentity
  private readonly options: CliLoginOptions
  private readonly system: System
  private readonly store: SessionStore
  private readonly memory: SessionMemory = {}
  private sharedContext: LoginContext | undefined
  /** The session files under the home (undefined with a caller's own `store`). */
  private readonly files: FileSessionStore | undefined
  /** The store that decides where secrets go (undefined with a caller's own `store`). */
  private readonly secrets: KeychainSessionStore | undefined
  /** An explicit storage (or keychainAccessToken) has been applied to the stored session (moved if it was elsewhere). */
  private storageSettled: Promise<void> | undefined

  constructor(options: CliLoginOptions) {
    this.options = options
    this.app = resolveAppIdentity(options)
    this.system = defaultSystem(options.system)
    const home = options.home ?? defaultHome(this.app.appName, this.system.env, this.system.platform)
    // No profile named: the home's default (setDefaultProfile()), else "default".
    this.profile = options.profile ?? (options.store ? undefined : readDefaultProfile(home)) ?? DEFAULTS.profile
    assertProfileName(this.profile)
    const mode = options.storage ?? 'auto'
    if (!STORAGE_MODES.includes(mode)) throw UsageError.forOption('storage', `must be one of ${STORAGE_MODES.join(', ')}, not ${JSON.stringify(mode)}`)
    if (options.store) {
      this.store = options.store
    } else {
      const files = new FileSessionStore(home, { loginCommand: this.app.loginCommand, onWarning: options.onWarning })
      this.files = files
      this.secrets = new KeychainSessionStore(files, {
        service: this.app.appName,
        mode,
        keychain: options.keychain,
        env: this.system.env,
        loginCommand: this.app.loginCommand,
        keychainAccessToken: options.keychainAccessToken,
        debug: options.onDebug,
      })
      this.store = this.secrets
    }
  }

  /**
   * The browser login (or the device flow with `device: true`), or the login without a person that
   * `grant`, `assertion`, `federated` or `enterprise` asks for; resolves once the session is stored.
   * With `challenge` (a resource's `WWW-Authenticate`), a step-up: the union of the session's scope
   * and the challenged one, or the `acr_values` / `max_age` asked for.
   */
  async login(options: LoginOptions = {}): Promise<LoginResult> {
    const { isMachineLogin, machineLogin } = await flows.machineLogin()
    if (isMachineLogin(this.options)) return this.storingLogin(() => machineLogin(this.context(options.signal)))
    const { login } = await flows.login()
    const stepUp = options.challenge === undefined ? undefined : await this.stepUpFor(options.challenge)
    return this.storingLogin(() => login(this.context(options.signal), stepUp?.login))
  }

  /** What a challenge asks of a new login, given the stored session (undefined: no step-up). */
  private async stepUpFor(challenge: string) {
    const { stepUpLogin } = await flows.stepUp()
    const session = await this.store.readSession(this.profile).catch(() => undefined)
    return { session, ...stepUpLogin(session, challenge) }
  }

  /**
   * The first step of a login finished later (by `finishLogin()`, in this process or another): the
   * authorization URL to open in any browser, anywhere. The attempt is kept as the profile's
   * pending login (a secret, stored as the session's secrets are) until it is used or expires
   * (`timeoutS`); a new one replaces it. No server listens: the redirect URI is the first port's.
   */
  async startLogin(options: CallOptions = {}): Promise<PendingLoginStart> {
    const { startLogin } = await flows.twoStepLogin()
    if (this.secrets?.mode === 'keychain') await this.secrets.prepareLogin()
    return startLogin(this.context(options.signal))
  }

  /**
   * Completes the profile's pending login with the address the browser ended on (checked as the
   * redirect is: state, `iss`, PKCE, nonce); PendingLoginError when there is none, it expired, was
   * used, or the address is another attempt's.
   */
  async finishLogin(address: string, options: CallOptions = {}): Promise<LoginResult> {
    const { finishLogin } = await flows.twoStepLogin()
    return this.storingLogin(() => finishLogin(this.context(options.signal), address))
  }

  /** A login with the storage decided alongside it, and said in the result. */
  private async storingLogin(run: () => Promise<LoginOutcome>): Promise<LoginResult> {
    // `keychain` without a keychain fails before the browser opens; `auto` probes while the login
    // runs (the store waits for the answer before it writes the session).
    const deciding = this.secrets?.prepareLogin()
    deciding?.catch(() => {})
    if (this.secrets?.mode === 'keychain') await deciding
    const result = await run()
    const decision = await deciding
    const keychainOnly = (await this.secrets?.keepsTokensInKeychainOnly(this.profile)) ?? false
    return { ...result, storage: decision?.storage ?? result.storage, keychain_unavailable: decision?.keychainUnavailable ?? null, keychain_access_token: keychainOnly }
  }

  /**
   * A valid access token: the stored one, or a refreshed one when it expires within minTtlS. With
   * `audience`, `resource` or `scope`, a token for another API or a narrower scope from the same
   * login. Never opens a browser: LoginRequiredError when the user must log in.
   */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<AccessToken> {
    const { getAccessToken } = await flows.accessToken()
    await this.settleStorage()
    const { challenge, interactive, ...asked } = options
    if (challenge === undefined) return getAccessToken(this.context(options.signal), asked)
    // A token the resource refused: refreshed (invalid_token), or a step-up login (only when interactive).
    const { session, step } = await this.stepUpFor(challenge)
    if (!step) {
      const { isInvalidToken } = await import('./net/www-authenticate.ts')
      return getAccessToken(this.context(options.signal), { ...asked, forceRefresh: asked.forceRefresh || isInvalidToken(challenge) })
    }
    if (!interactive) throw (await flows.stepUp()).stepUpError(this.context(options.signal), session, step)
    await this.login({ challenge, signal: options.signal })
    return getAccessToken(this.context(options.signal), asked)
  }

  /**
   * One request with the session's token, only to the session's origins (its resource, its https
   * audience, `allowOrigins`): a 3xx is returned as it is; a 401 `invalid_token` is retried once
   * after a forced refresh; a 403 step-up challenge logs in again when `interactive` (at most three
   * times for one request), else throws InsufficientScopeError / StepUpRequiredError. The body streams.
   */
  async fetch(input: string | URL, init: AuthFetchInit = {}): Promise<Response> {
    const { authenticatedFetch } = await flows.fetch()
    await this.settleStorage()
    const signal = init.signal ?? undefined
    return authenticatedFetch(this.context(signal), {
      token: (options) => this.getAccessToken({ ...options, signal }),
      login: (challenge) => this.login({ challenge, signal }),
    }, input, init)
  }

  /**
   * Resolves once no refresh started in this process is under way. A signal ends the wait for a
   * token at once, never a refresh whose answer may hold a rotated refresh token (it runs on and
   * is stored): a tool that exits on Ctrl-C awaits this first.
   */
  async settled(): Promise<void> {
    const { refreshesSettled } = await flows.accessToken()
    await refreshesSettled()
  }

  /**
   * The origins `fetch()` sends the session's token to: its resource, its audience when that is an
   * https URL, and `allowOrigins` (the instance's and these). LoginRequiredError without a usable session.
   */
  async tokenOrigins(allowOrigins: string[] = []): Promise<string[]> {
    const [{ readUsableSession }, { sessionOrigins }] = await Promise.all([flows.accessToken(), import('./session/origins.ts')])
    await this.settleStorage()
    const session = await readUsableSession(this.context(undefined), true)
    return sessionOrigins(session, [...(this.options.allowOrigins ?? []), ...allowOrigins])
  }

  /** Who is logged in on this profile (with the ID token's claims), or undefined. */
  async status(_options: CallOptions = {}): Promise<StatusResult | undefined> {
    await this.settleStorage()
    const session = await this.store.readSession(this.profile)
    return session && { ...sessionStatus(this.profile, session), session_expired: isSessionExpired(session) }
  }

  /** The provider's userinfo for this session. */
  async userinfo(options: CallOptions = {}): Promise<Record<string, unknown>> {
    const { userinfo } = await flows.userinfo()
    await this.settleStorage()
    return userinfo(this.context(options.signal))
  }

  /** Revokes the refresh token at the provider (when it can) and deletes the stored session. */
  async logout(options: LogoutOptions = {}): Promise<LogoutResult> {
    const { logout } = await flows.logout()
    return logout(this.context(options.signal), options)
  }

  /** Where this profile's session is stored, for messages (the session file's path by default). */
  sessionLocation(): string {
    return this.store.describe(this.profile)
  }

  /** The profiles that have a stored session. */
  async listProfiles(_options: CallOptions = {}): Promise<string[]> {
    return this.store.listProfiles()
  }

  /**
   * Every profile with a session: its status, and `default: true` for this instance's profile (the
   * one named, else the home's default). A session that cannot be read is told to onWarning and left out.
   */
  async profiles(_options: CallOptions = {}): Promise<ProfileStatus[]> {
    const statuses: ProfileStatus[] = []
    for (const profile of await this.store.listProfiles()) {
      const session = await this.store.readSession(profile).catch((error: unknown) => {
        this.options.onWarning?.(`profile "${profile}" left out: ${error instanceof Error ? error.message : String(error)}`)
        return undefined
      })
      if (session) statuses.push({ ...sessionStatus(profile, session), session_expired: isSessionExpired(session), default: profile === this.profile })
    }
    return statuses
  }

  /**
   * Makes `profile` the home's default: instances (and the CLI's commands) given no profile use it.
   * ProfileNotFoundError when it has no session.
   */
  async setDefaultProfile(profile: string, _options: CallOptions = {}): Promise<void> {
    assertProfileName(profile)
    if (!this.files) throw new StorageError('a caller-provided session store has no default profile')
    const target = { profile, loginCommand: this.app.loginCommand }
    if (!(await this.store.listProfiles()).includes(profile)) throw new ProfileNotFoundError(target)
    await this.files.writeDefaultProfile(profile)
  }

  /** The redirect URIs to register with the provider: one per port of the range. */
  async callbackUrls(_options: CallOptions = {}): Promise<string[]> {
    const remembered = await this.context(undefined).rememberedSettings({ strict: true })
    return callbackUrls(resolveRedirectSettings(this.options, remembered))
  }

  /** Once per instance: an explicit `storage` moves a session stored the other way. */
  private settleStorage(): Promise<void> {
    this.storageSettled ??= (this.secrets?.moveSession(this.profile) ?? Promise.resolve()).catch((error: unknown) => {
      this.storageSettled = undefined
      throw error
    })
    return this.storageSettled
  }

  private context(signal: AbortSignal | undefined): LoginContext {
    const combined = combineSignals(this.options.signal, signal)
    // The same context serves every call without a signal of its own (getAccessToken() in a loop).
    if (combined === this.options.signal && this.sharedContext) return this.sharedContext
    const context = createContext({
      app: this.app,
      profile: this.profile,
      options: this.options,
      system: this.system,
      store: this.store,
      memory: this.memory,
      signal: combined,
    })
    if (combined === this.options.signal) this.sharedContext = context
    return context
  }
}
