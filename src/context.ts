/**
 * What every use case (flows/*) works with: whose login it is, the profile, the seams (system,
 * store, provider fetch, browser opener) and the call's signal. The façade (cli-login.ts) makes one
 * per call.
 */
import type { AppIdentity } from './app.ts'
import type { OpenBrowser } from './browser/open-browser.ts'
import { CliLoginError, LoginCancelledError, SessionFileError, type LoginTarget } from './errors.ts'
import type { CliLoginOptions } from './library-options.ts'
import { createProviderFetch } from './net/provider-fetch.ts'
import type { SessionStore } from './session/file-store.ts'
import type { ProfileSettings, Session } from './session/session.ts'
import { nowSeconds, type System } from './system.ts'

export interface LoginContext {
  readonly app: AppIdentity
  readonly profile: string
  /** For LoginRequiredError and friends: the profile and the tool's login command. */
  readonly loginTarget: LoginTarget
  readonly options: CliLoginOptions
  readonly system: System
  readonly store: SessionStore
  /** The instance's and the call's signals together; undefined when neither was given. */
  readonly signal: AbortSignal | undefined
  /** The session read last by this instance, reused while the file is unchanged. */
  readonly memory: SessionMemory
  /** Every request to the provider goes through this one (the signal aborts them all). */
  providerFetch(): typeof fetch
  browserOpener(): Promise<OpenBrowser>
  debug(line: string): void
  nowS(): number
  /** Throws the cancellation once the signal has fired. */
  throwIfCancelled(): void
  /**
   * What the profile remembers from its last login; {} unless rememberSettings is on. A broken
   * settings file counts as empty (a login writes a new one) unless `strict`.
   */
  rememberedSettings(options?: { strict?: boolean }): Promise<ProfileSettings>
}

export interface SessionMemory {
  lastRead?: { signature: string; session: Session }
  /** DPoP signing keys imported (non-extractable) in this process, by thumbprint. */
  dpopKeys?: Map<string, Promise<CryptoKey>>
}

export function createContext(params: {
  app: AppIdentity
  profile: string
  options: CliLoginOptions
  system: System
  store: SessionStore
  memory: SessionMemory
  signal: AbortSignal | undefined
}): LoginContext {
  const { app, profile, options, system, store, signal } = params
  let fetchForProvider: typeof fetch | undefined
  const context: LoginContext = {
    ...params,
    loginTarget: { profile, loginCommand: app.loginCommand },
    providerFetch() {
      if (fetchForProvider) return fetchForProvider
      const base = options.fetch ?? system.fetch ?? createProviderFetch(system.env)
      fetchForProvider = !signal ? base : (input, init) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal })
      return fetchForProvider
    },
    async browserOpener() {
      if (options.openBrowser) {
        const open = options.openBrowser
        return (url) => (options.noBrowser ? Promise.resolve({ opened: false, reason: 'disabled' }) : open(url))
      }
      const { createBrowserOpener } = await import('./browser/open-browser.ts')
      return createBrowserOpener({ env: system.env, platform: system.platform, disabled: options.noBrowser, secrets: options.clientSecret ? [options.clientSecret] : [] })
    },
    debug(line) {
      options.onDebug?.(line)
    },
    nowS: () => nowSeconds(system),
    throwIfCancelled() {
      if (signal?.aborted) throw cancellation(signal)
    },
    async rememberedSettings({ strict = false } = {}) {
      if (!options.rememberSettings) return {}
      return store.readSettings(profile).catch((error: unknown) => {
        if (error instanceof SessionFileError && !strict) return {}
        throw error
      })
    },
  }
  return context
}

/** The caller's reason when it is one of ours (the CLI aborts with LoginCancelledError), else LoginCancelledError. */
export function cancellation(signal: AbortSignal): CliLoginError {
  const reason: unknown = signal.reason
  return reason instanceof CliLoginError ? reason : new LoginCancelledError()
}

/** The instance's signal and the call's, as one; undefined when neither was given. */
export function combineSignals(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const given = signals.filter((s): s is AbortSignal => s !== undefined)
  return given.length <= 1 ? given[0] : AbortSignal.any(given)
}
