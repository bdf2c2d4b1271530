import { resolveAppIdentity, defaultHome, type AppIdentity } from './app.ts'
import { combineSignals, createContext, type LoginContext, type SessionMemory } from './context.ts'
import type { CallOptions, CliLoginOptions, GetAccessTokenOptions, LoginResult, LogoutOptions, LogoutResult, StatusResult } from './library-options.ts'
import { callbackUrls, DEFAULTS, resolveRedirectSettings } from './options.ts'
import { FileSessionStore, type SessionStore } from './session/file-store.ts'
import { assertProfileName } from './session/paths.ts'
import { sessionStatus, type AccessToken } from './session/session.ts'
import { defaultSystem, type System } from './system.ts'

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

  constructor(options: CliLoginOptions) {
    this.options = options
    this.app = resolveAppIdentity(options)
    this.system = defaultSystem(options.system)
    this.profile = options.profile ?? DEFAULTS.profile
    assertProfileName(this.profile)
    const home = options.home ?? defaultHome(this.app.appName, this.system.env, this.system.platform)
    this.store = options.store ?? new FileSessionStore(home, { loginCommand: this.app.loginCommand, onWarning: options.onWarning })
  }

  /** The browser login (or the device flow with `device: true`); resolves once the session is stored. */
  async login(options: CallOptions = {}): Promise<LoginResult> {
    const { login } = await import('./flows/login.ts')
    return login(this.context(options.signal))
  }

  /**
   * A valid access token: the stored one, or a refreshed one when it expires within minTtlS. With
   * `audience`, `resource` or `scope`, a token for another API or a narrower scope from the same
   * login. Never opens a browser: LoginRequiredError when the user must log in.
   */
  async getAccessToken(options: GetAccessTokenOptions = {}): Promise<AccessToken> {
    const { getAccessToken } = await import('./flows/access-token.ts')
    return getAccessToken(this.context(options.signal), options)
  }

  /** Who is logged in on this profile (with the ID token's claims), or undefined. */
  async status(_options: CallOptions = {}): Promise<StatusResult | undefined> {
    const session = await this.store.readSession(this.profile)
    return session && { ...sessionStatus(this.profile, session), session_expired: session.refreshRejectedAt !== undefined }
  }

  /** The provider's userinfo for this session. */
  async userinfo(options: CallOptions = {}): Promise<Record<string, unknown>> {
    const { userinfo } = await import('./flows/userinfo.ts')
    return userinfo(this.context(options.signal))
  }

  /** Revokes the refresh token at the provider (when it can) and deletes the stored session. */
  async logout(options: LogoutOptions = {}): Promise<LogoutResult> {
    const { logout } = await import('./flows/logout.ts')
    return logout(this.context(options.signal), options)
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

  private context(signal: AbortSignal | undefined): LoginContext {
    return createContext({
      app: this.app,
      profile: this.profile,
      options: this.options,
      system: this.system,
      store: this.store,
      memory: this.memory,
      signal: combineSignals(this.options.signal, signal),
    })
  }
}
