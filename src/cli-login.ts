import { resolveAppIdentity, defaultHome, type AppIdentity } from './app.ts'
import { combineSignals, createContext, type LoginContext, type SessionMemory } from './context.ts'
import type { CallOptions, CliLoginOptions, GetAccessTokenOptions, LoginResult, LogoutOptions, LogoutResult, StatusResult } from './library-options.ts'
import { callbackUrls, DEFAULTS, resolveRedirectSettings } from './options.ts'
import { UsageError } from './errors.ts'
import { FileSessionStore, type SessionStore } from './session/file-store.ts'
import { KeychainSessionStore, STORAGE_MODES } from './session/keychain-store.ts'
import { assertProfileName } from './session/paths.ts'
import { isSessionExpired, sessionStatus, type AccessToken } from './session/session.ts'
import { defaultSystem, type System } from './system.ts'

/**
 * Each use case is loaded on its first call and kept: a dynamic import per call would cost a
 * long-running process's getAccessToken() most of its time (module resolution, loader hooks).
 */
const flows = {
  login: once(() => import('./flows/login.ts')),
  accessToken: once(() => import('./flows/access-token.ts')),
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
  /** The store that decides where secrets go (undefined with a caller's own `store`). */
  private readonly secrets: KeychainSessionStore | undefined
  /** An explicit storage (or keychainAccessToken) has been applied to the stored session (moved if it was elsewhere). */
  private storageSettled: Promise<void> | undefined

  constructor(options: CliLoginOptions) {
    this.options = options
    this.app = resolveAppIdentity(options)
    this.system = defaultSystem(options.system)
    this.profile = options.profile ?? DEFAULTS.profile
    assertProfileName(this.profile)
    const home = options.home ?? defaultHome(this.app.appName, this.system.env, this.system.platform)
    const mode = options.storage ?? 'auto'
    if (!STORAGE_MODES.includes(mode)) throw UsageError.forOption('storage', `must be one of ${STORAGE_MODES.join(', ')}, not ${JSON.stringify(mode)}`)
    if (options.store) {
      this.store = options.store
    } else {
      const files = new FileSessionStore(home, { loginCommand: this.app.loginCommand, onWarning: options.onWarning })
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

  /** The browser login (or the device flow with `device: true`); resolves once the session is stored. */
  async login(options: CallOptions = {}): Promise<LoginResult> {
    const { login } = await flows.login()
    // `keychain` without a keychain fails before the browser opens; `auto` probes while the login
    // runs (the store waits for the answer before it writes the session).
    const deciding = this.secrets?.prepareLogin()
    deciding?.catch(() => {})
    if (this.secrets?.mode === 'keychain') await deciding
    const result = await login(this.context(options.signal))
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
    return getAccessToken(this.context(options.signal), options)
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
