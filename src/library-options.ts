/** The library's public option and result types (what `new CliLogin(…)` and its methods take and give). */
import type { BrowserOpenResult, OpenBrowser } from './browser/open-browser.ts'
import type { CliLoginError } from './errors.ts'
import type { PastedVerdict } from './loopback/guard.ts'
import type { LoginPages } from './loopback/pages.ts'
import type { LoginSettingsInput } from './options.ts'
import type { SessionStore } from './session/file-store.ts'
import type { Keychain } from './session/keychain.ts'
import type { StorageMode } from './session/keychain-store.ts'
import type { SessionStatus } from './session/session.ts'
import type { System } from './system.ts'

export interface CliLoginOptions extends LoginSettingsInput {
  /** The embedding tool's name (`acme`): names its storage directory and is shown on the pages. Required. */
  appName: string
  /** What messages tell the user to run to log in (default `<appName> login`). */
  loginCommand?: string
  /** The tool's name as shown on the pages in the browser (default appName). */
  displayName?: string
  /** Which stored session to use (default "default"). */
  profile?: string
  /** Where sessions live (default: $XDG_CONFIG_HOME/<appName>, else ~/.config/<appName>; %APPDATA%\<appName> on Windows). */
  home?: string
  /**
   * Let the profile remember the settings of its last successful login (issuer, client id, audience,
   * scope, organization, redirect settings, device) and use them where an option is not given.
   * Off by default: the library uses the options it is given and nothing else.
   */
  rememberSettings?: boolean
  /** `getAccessToken()` refreshes when fewer seconds than this are left (default 60). */
  minTtlS?: number
  /** Only tell the URL (onAuthorizationUrl): never start a browser. */
  noBrowser?: boolean
  /** Replaces the browser launcher (default: BROWSER, else the platform's opener, except when headless). */
  openBrowser?: OpenBrowser
  /** Replaces the pages shown in the browser after the redirect. */
  pages?: LoginPages
  /**
   * Where the session's secrets (tokens, client secret) are kept: `auto` (default) the OS keychain
   * when a probe succeeds within 2 s, else the 0600 session file (the login result says why);
   * `keychain` only there (KeychainError without one); `file` the session file. An explicit
   * `keychain` or `file` moves a session stored the other way. Not used with `store`.
   */
  storage?: StorageMode
  /**
   * With keychain storage: keep the session's access and ID tokens in the keychain only. By default
   * they are also cached in the 0600 session file (the refresh token, client secret and keys never
   * are), so that getting a fresh token reads one file; a session keeps the choice it was stored with.
   */
  keychainAccessToken?: boolean
  /** Replaces the OS keychain (tests: an in-memory keychain behind the same seam). */
  keychain?: Keychain
  /** Replaces where sessions are stored (then `storage` does not apply). */
  store?: SessionStore
  /** Used for every request to the provider, and by `auth.fetch()` for the resource's (default: the platform's). */
  fetch?: typeof fetch
  /**
   * Origins (or URLs on them) `auth.fetch()` may send the session's token to besides the session's
   * own (its resource, its audience when that is an https URL).
   */
  allowOrigins?: string[]
  /** Environment, platform and clock (tests pass their own). */
  system?: Partial<System>
  /** Told the authorization URL and whether a browser was started, so the tool can print it. */
  onAuthorizationUrl?: (event: AuthorizationUrlEvent) => void
  /**
   * While a browser login waits for the redirect: the addresses the user pastes (the page the
   * browser ended on, e.g. a browser on another machine that cannot reach this one's loopback),
   * one per item. Each is checked exactly like the redirect (state, then `iss` and PKCE at the
   * exchange); the first that is this attempt's answer completes the login, whichever of it and the
   * redirect comes first. The CLI reads them from a terminal; the iterable should end when the
   * signal aborts.
   */
  pastedAddresses?: (signal: AbortSignal) => AsyncIterable<string>
  /** Told why a pasted address was not taken (the login keeps waiting). */
  onPastedAddressRejected?: (event: PastedAddressRejectedEvent) => void
  /** Told the codes of a device login (`device: true`): the tool must show them, the library prints nothing. */
  onDeviceCode?: (event: DeviceCodeEvent) => void
  /** Told what the library is doing, one line at a time (requests, cache, lock, decisions); never a token. */
  onDebug?: (line: string) => void
  /**
   * Told when the library fixed something unsafe it found (a session directory others could write,
   * a session file others could read), one line each; the library itself prints nothing.
   */
  onWarning?: (line: string) => void
  /**
   * For `grant: 'jwt-bearer' | 'token-exchange'`: the assertion to exchange (e.g. the CI platform's
   * OIDC token), asked for at login and again whenever the token has expired. Wins over `federated`.
   */
  assertion?: () => Promise<string>
  /**
   * Enterprise-managed authorization (SEP-990) from an ID token the tool already holds (the
   * company's single sign-on): it is exchanged at that identity provider (RFC 8693) for an ID-JAG
   * for the resource's authorization server, which that server takes as a JWT bearer assertion.
   * With a session of the tool's own at the identity provider, `getAccessToken({ resource })` does
   * the same from the session's ID token.
   */
  enterprise?: EnterpriseIdentity
  /** Ends whatever is in progress (the CLI aborts on Ctrl-C); each method also takes its own. */
  signal?: AbortSignal
}

/** The identity provider of enterprise-managed authorization, the tool's client there, and the user's ID token from it. */
export interface EnterpriseIdentity {
  issuer: string
  clientId: string
  clientSecret?: string
  /** The user's ID token at that identity provider, asked for each time a new grant is needed. */
  idToken: () => Promise<string>
}

export interface AuthorizationUrlEvent {
  url: string
  redirectUri: string
  browser: BrowserOpenResult
}

export interface PastedAddressRejectedEvent {
  verdict: Exclude<PastedVerdict, 'callback'>
  /** One line, for the user. */
  message: string
}

export interface DeviceCodeEvent {
  verificationUri: string
  verificationUriComplete?: string
  userCode: string
  expiresInS: number
  browser: BrowserOpenResult
}

export interface CallOptions {
  /** Aborts this call (together with the instance's signal). */
  signal?: AbortSignal
}

export interface GetAccessTokenOptions extends CallOptions {
  minTtlS?: number
  forceRefresh?: boolean
  /** A token for another API (Auth0 multi-resource refresh tokens), from the same login. */
  audience?: string
  /** A token for another resource (RFC 8707), from the same login. */
  resource?: string
  /** A narrower scope (RFC 6749 §6), space- or comma-separated or a list. */
  scope?: string | string[]
  /** `id`: the session's ID token instead (refreshed the same way), e.g. for Kubernetes OIDC. */
  tokenType?: 'access' | 'id'
  /**
   * Enterprise-managed authorization (a `resource` whose authorization server is not the session's
   * issuer but trusts it): the client at that server (default: the session's client id, no secret).
   */
  clientId?: string
  clientSecret?: string
  /**
   * The `WWW-Authenticate` value a resource refused the last token with. `insufficient_scope` with
   * `scope`, or `insufficient_user_authentication` with `acr_values` / `max_age` (RFC 9470): a new
   * login is needed (for the union of the session's scope and the challenged one) — with
   * `interactive: true` it is done (the browser opens), else InsufficientScopeError /
   * StepUpRequiredError. `invalid_token`: the token is refreshed first.
   */
  challenge?: string
  /** With `challenge`: a step-up may open the browser (default false). */
  interactive?: boolean
}

export interface LoginOptions extends CallOptions {
  /**
   * A `WWW-Authenticate` value from the resource (step-up): the login asks for the union of the
   * session's scope and the challenged one, or for its `acr_values` / `max_age` (RFC 9470).
   */
  challenge?: string
}

/** `auth.fetch(url, init)`: a RequestInit (its `redirect` is always `manual`) and these. */
export interface AuthFetchInit extends RequestInit {
  /** A step-up (or a login the session needs) may open the browser (default false: the error is thrown). */
  interactive?: boolean
  /** More origins the token may go to, for this request. */
  allowOrigins?: string[]
  /**
   * The caller sent this request with the session's token already and the resource refused it with
   * this `WWW-Authenticate` value: it is acted on first (the forced refresh of `invalid_token`, a
   * step-up), then the request is sent (once more at most, for invalid_token).
   */
  refusedWith?: string
}

export interface LoginResult extends SessionStatus {
  /** offline_access was asked for but the provider issued no refresh token. */
  refresh_token_missing: boolean
  /**
   * `storage: 'auto'` found no usable OS keychain, so the secrets are in the session file: why (one
   * line). null otherwise. Tell the user once.
   */
  keychain_unavailable: string | null
  /** Keychain storage with the access and ID tokens in the keychain only (keychainAccessToken); false when the file caches them, or holds everything. */
  keychain_access_token: boolean
  /**
   * The profile's session was of another account (another subject, or another issuer) and this
   * login replaced it: who that was. null when the profile had no session or the same account
   * logged in again.
   */
  replaced_account: AccountSummary | null
}

/** Who a session is for. */
export interface AccountSummary {
  issuer: string
  subject: string | null
  email: string | null
  name: string | null
}

/** A login started now and finished later, in this process or another (`startLogin()`). */
export interface PendingLoginStart {
  /** The authorization URL to open in a browser, anywhere. */
  url: string
  /** Names the attempt (it is not a secret). */
  loginId: string
  /** Epoch seconds; after it, `finishLogin()` refuses the attempt. */
  expiresAt: number
}

export interface StatusResult extends SessionStatus {
  /** The provider rejected the refresh token: the session needs a new login. */
  session_expired: boolean
}

export interface ProfileStatus extends StatusResult {
  /** This instance's profile: the one it was given, else the home's default (or "default"). */
  default: boolean
}

export interface LogoutOptions extends CallOptions {
  /** Also open the provider's end-session URL in the browser. */
  endBrowserSession?: boolean
  /**
   * Told once the browser was started with the end-session URL: logout now waits, at most `waitS`,
   * for it to load the page (the session is deleted already; the signal ends the wait).
   */
  onBrowserWait?: (event: { waitS: number }) => void
}

export interface LogoutResult {
  /** There was a session (or an unreadable session file) and it is gone. */
  deleted: boolean
  /** The refresh token was revoked at the provider. */
  revoked: boolean
  /**
   * The deleted session had a refresh token that was not revoked (no revocation endpoint, or the
   * provider refused or could not be reached): it stays valid at the provider until it expires.
   */
  refreshTokenLeftValid?: boolean
  /** Why revocation could not be done, when it failed. */
  revocationError?: CliLoginError
  /** What happened when the end-session URL was to be opened (`cancelled`: the signal ended the wait for the browser). */
  endSession?: BrowserOpenResult | { opened: false; reason: 'unsupported' | 'no-issuer' | 'cancelled' }
}
