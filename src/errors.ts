import { terminalText } from './terminal-text.ts'

/**
 * Every error the library throws on purpose is a CliLoginError with a stable `code` and the data
 * behind it. Messages are one line in the embedding tool's words (its `loginCommand`): they never
 * name cli-login's flags or variables (the standalone CLI adds those, keyed by code) and never
 * contain a token or secret.
 */
export const ErrorCode = {
  USAGE: 'USAGE',
  LOGIN_REQUIRED: 'LOGIN_REQUIRED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  SESSION_MISMATCH: 'SESSION_MISMATCH',
  ACCOUNT_CHANGED: 'ACCOUNT_CHANGED',
  AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  LOGIN_TIMEOUT: 'LOGIN_TIMEOUT',
  LOGIN_CANCELLED: 'LOGIN_CANCELLED',
  PORTS_UNAVAILABLE: 'PORTS_UNAVAILABLE',
  PROVIDER_UNREACHABLE: 'PROVIDER_UNREACHABLE',
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  TOKEN_AUDIENCE_MISMATCH: 'TOKEN_AUDIENCE_MISMATCH',
  CALLBACK_INVALID: 'CALLBACK_INVALID',
  SESSION_FILE_INVALID: 'SESSION_FILE_INVALID',
  STORAGE_FAILED: 'STORAGE_FAILED',
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  KEYCHAIN_UNAVAILABLE: 'KEYCHAIN_UNAVAILABLE',
  PENDING_LOGIN_INVALID: 'PENDING_LOGIN_INVALID',
  PROFILE_NOT_FOUND: 'PROFILE_NOT_FOUND',
  INSUFFICIENT_SCOPE: 'INSUFFICIENT_SCOPE',
  STEP_UP_REQUIRED: 'STEP_UP_REQUIRED',
  GRANT_REFUSED: 'GRANT_REFUSED',
  ASSERTION_UNAVAILABLE: 'ASSERTION_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export class CliLoginError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/**
 * Bad library options (or, in the CLI, flags and env vars). `option` names the library option at
 * fault and `problem` says what is wrong with it, so a CLI can say it with its own flag names.
 */
export class UsageError extends CliLoginError {
  readonly option: string | undefined
  readonly problem: string
  constructor(message: string, details: { option?: string; problem?: string; cause?: unknown } = {}) {
    super(ErrorCode.USAGE, message, { cause: details.cause })
    this.option = details.option
    this.problem = details.problem ?? message
  }

  /** `option "port" must be …`: the library's words for a bad option. */
  static forOption(option: string, problem: string): UsageError {
    return new UsageError(`option "${option}" ${problem}`, { option, problem })
  }
}

/** Who is asked to log in again: the profile and the command the embedding tool's users run. */
export interface LoginTarget {
  profile: string
  loginCommand: string
}

function ofProfile(profile: string): string {
  return profile === 'default' ? '' : ` (profile "${profile}")`
}

/** No usable session: the user has to run the tool's login command. `reason` says why. */
export class LoginRequiredError extends CliLoginError {
  readonly profile: string
  readonly loginCommand: string
  readonly reason: string
  constructor(target: LoginTarget, reason = 'not logged in', code: ErrorCode = ErrorCode.LOGIN_REQUIRED, options?: { cause?: unknown }) {
    super(code, `${reason}${ofProfile(target.profile)}: run ${target.loginCommand}`, options)
    this.profile = target.profile
    this.loginCommand = target.loginCommand
    this.reason = reason
  }
}

/** The provider no longer honours the refresh token (invalid_grant, or any 400/401 on refresh). */
export class SessionExpiredError extends LoginRequiredError {
  constructor(target: LoginTarget, options?: { cause?: unknown }) {
    super(target, 'session expired', ErrorCode.SESSION_EXPIRED, options)
  }
}

/**
 * A refresh answered with an ID token for another account (another subject, issuer or audience
 * than the session's: OIDC Core 12.2): the session has been ended (deleted).
 */
export class AccountChangedError extends LoginRequiredError {
  /** What differs, e.g. `subject "bob", not "alice"`. */
  readonly detail: string
  constructor(target: LoginTarget, detail: string, options?: { cause?: unknown }) {
    super(target, `the provider answered the refresh for another account (${oneLine(detail)}), so the session was ended`, ErrorCode.ACCOUNT_CHANGED, options)
    this.detail = detail
  }
}

/** The stored session was made for another issuer, client, audience or scope than the one asked for. */
export class SessionMismatchError extends LoginRequiredError {
  readonly mismatch: 'issuer' | 'client' | 'audience' | 'scope' | 'resource'
  constructor(target: LoginTarget, mismatch: SessionMismatchError['mismatch']) {
    const what = mismatch === 'client' ? 'another client id' : mismatch === 'scope' ? 'a scope that does not cover the one asked for' : `another ${mismatch}`
    super(target, `the stored session is for ${what}`, ErrorCode.SESSION_MISMATCH)
    this.mismatch = mismatch
  }
}

/**
 * A session without a person (client credentials, a federated assertion) needed a new token and the
 * authorization server refused the grant (a 400 or 401: a revoked client, an assertion for another
 * audience or expired): the login has to be made again. `error`/`errorDescription` are the server's.
 */
export class GrantRefusedError extends LoginRequiredError {
  readonly error: string | undefined
  readonly errorDescription: string | undefined
  constructor(target: LoginTarget, failure: ProviderError) {
    super(target, oneLine(failure.message), ErrorCode.GRANT_REFUSED, { cause: failure })
    this.error = failure.error
    this.errorDescription = failure.errorDescription
  }
}

/**
 * The assertion of a login without a person could not be had: the CI platform's token (its
 * variables unset, its token service failing), a file or variable that is not there.
 */
export class AssertionUnavailableError extends CliLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ASSERTION_UNAVAILABLE, oneLine(message), options)
  }
}

/**
 * The resource refused the token for its scope (RFC 6750 §3.1 `insufficient_scope`, MCP's scope
 * challenge) and no browser may be opened (or the re-authorizations for one request ran out):
 * `scope` is what a new login must ask for (the session's scope and the challenged one).
 */
export class InsufficientScopeError extends LoginRequiredError {
  /** The scope to log in with: the session's and the challenged one, space-separated. */
  readonly scope: string
  /** The scope the resource named. */
  readonly challengedScope: string
  constructor(target: LoginTarget, scope: string, challengedScope: string, detail = '') {
    super(target, `the resource asks for scope "${oneLine(challengedScope)}" (insufficient_scope${detail ? `; ${oneLine(detail)}` : ''}), so a new login for scope "${oneLine(scope)}" is needed`, ErrorCode.INSUFFICIENT_SCOPE)
    this.scope = scope
    this.challengedScope = challengedScope
  }
}

/**
 * The resource asks for a stronger or more recent login (RFC 9470 `insufficient_user_authentication`,
 * with `acr_values` and/or `max_age`) and no browser may be opened (or the re-authorizations ran out).
 */
export class StepUpRequiredError extends LoginRequiredError {
  readonly acrValues: string | undefined
  readonly maxAge: number | undefined
  constructor(target: LoginTarget, step: { acrValues?: string; maxAge?: number }, detail = '') {
    const asked = [step.acrValues !== undefined ? `acr_values "${oneLine(step.acrValues)}"` : '', step.maxAge !== undefined ? `a login at most ${step.maxAge} s old` : ''].filter(Boolean).join(' and ')
    super(target, `the resource asks for ${asked} (insufficient_user_authentication${detail ? `; ${oneLine(detail)}` : ''}), so a new login is needed`, ErrorCode.STEP_UP_REQUIRED)
    this.acrValues = step.acrValues
    this.maxAge = step.maxAge
  }
}

/**
 * A request to an origin the session was not made for: the token is never sent there (nothing was
 * sent). `allowed` lists the origins it goes to.
 */
export class OriginNotAllowedError extends UsageError {
  readonly origin: string
  readonly allowed: string[]
  constructor(origin: string, allowed: string[]) {
    const to = allowed.length > 0 ? `only to ${allowed.join(', ')}` : 'to no origin (the session names no resource or https audience)'
    super(`the session's token is not sent to ${origin}: it goes ${to}; list the origin in "allowOrigins" to send it there`, { option: 'allowOrigins', problem: `does not list ${origin}` })
    this.origin = origin
    this.allowed = allowed
  }
}

/** The provider answered the authorization request with `error` (e.g. access_denied). */
export class AuthorizationError extends CliLoginError {
  readonly error: string
  readonly errorDescription: string | undefined
  constructor(error: string, errorDescription?: string, options?: { cause?: unknown }) {
    const detail = errorDescription ? ` (${oneLine(errorDescription)})` : ''
    super(ErrorCode.AUTHORIZATION_FAILED, `the provider refused the login: ${oneLine(error)}${detail}`, options)
    this.error = error
    this.errorDescription = errorDescription
  }
}

export class LoginTimeoutError extends CliLoginError {
  readonly seconds: number
  /** The browser never came back to the loopback callback (not a device login). */
  readonly browser: boolean
  constructor(seconds: number, loginCommand: string, what?: string) {
    // A provider that does not know the client id or the callback URL shows its error page and never redirects back.
    const hint = what ? '' : ' (if the provider showed an error page, the client id may be wrong or the callback URL not registered with the provider)'
    super(ErrorCode.LOGIN_TIMEOUT, `${what ?? 'no answer from the browser'} after ${seconds} s${hint}: run ${loginCommand} again`)
    this.seconds = seconds
    this.browser = what === undefined
  }
}

/**
 * A login started earlier cannot be finished with this address: there is none pending, it expired,
 * it was used already, the address is of another attempt (`state-mismatch`), or it is no answer
 * of the provider at all (`not-an-answer`: a bare code, another address).
 */
export class PendingLoginError extends CliLoginError {
  readonly reason: 'none' | 'expired' | 'used' | 'state-mismatch' | 'not-an-answer'
  readonly profile: string
  readonly loginId: string | undefined
  constructor(reason: PendingLoginError['reason'], target: LoginTarget, detail: { loginId?: string; expiresAt?: number; problem?: string } = {}) {
    const id = detail.loginId ? ` ${detail.loginId}` : ''
    const messages = {
      none: 'no login is waiting to be finished',
      expired: `the pending login${id} expired${detail.expiresAt === undefined ? '' : ` at ${new Date(detail.expiresAt * 1000).toISOString()}`}`,
      used: `the pending login${id} was used already (each is finished once)`,
      'state-mismatch': `the address is the answer to another login attempt than the pending one${id} (its state does not match)`,
      'not-an-answer': `the address is not the answer to the pending login${id}: ${detail.problem ?? 'no code and state'}`,
    }
    const fix = reason === 'state-mismatch' || reason === 'not-an-answer' ? "give the address the browser ended on after opening the pending login's URL" : 'start a new one'
    super(ErrorCode.PENDING_LOGIN_INVALID, `${messages[reason]}${ofProfile(target.profile)}: ${fix}`)
    this.reason = reason
    this.profile = target.profile
    this.loginId = detail.loginId
  }
}

/** A profile named for use that has no session. */
export class ProfileNotFoundError extends CliLoginError {
  readonly profile: string
  constructor(target: LoginTarget) {
    super(ErrorCode.PROFILE_NOT_FOUND, `profile "${target.profile}" has no session: log in to it with ${target.loginCommand} first`)
    this.profile = target.profile
  }
}

/** Ctrl-C (or the caller's signal) ended the call. `what`: the words for it (default `login cancelled`). */
export class LoginCancelledError extends CliLoginError {
  constructor(what = 'login cancelled') {
    super(ErrorCode.LOGIN_CANCELLED, what)
  }
}

export class PortsUnavailableError extends CliLoginError {
  readonly host: string
  readonly firstPort: number
  readonly lastPort: number
  constructor(host: string, firstPort: number, lastPort: number, options?: { cause?: unknown }) {
    const range = firstPort === lastPort ? `port ${firstPort}` : `ports ${firstPort}-${lastPort}`
    super(ErrorCode.PORTS_UNAVAILABLE, `${range} on ${host} ${firstPort === lastPort ? 'is' : 'are all'} in use: free one and try again`, options)
    this.host = host
    this.firstPort = firstPort
    this.lastPort = lastPort
  }
}

/** The provider could not be reached, or answered something other than what OAuth expects. */
export class ProviderError extends CliLoginError {
  readonly error: string | undefined
  readonly errorDescription: string | undefined
  readonly status: number | undefined
  constructor(
    code: typeof ErrorCode.PROVIDER_UNREACHABLE | typeof ErrorCode.PROVIDER_ERROR | typeof ErrorCode.TOKEN_AUDIENCE_MISMATCH,
    message: string,
    details: { error?: string; errorDescription?: string; status?: number; cause?: unknown } = {},
  ) {
    super(code, oneLine(message), { cause: details.cause })
    this.error = details.error
    this.errorDescription = details.errorDescription
    this.status = details.status
  }
}

/** A callback that passed the state check but failed validation (e.g. a wrong `iss`). */
export class CallbackValidationError extends CliLoginError {
  constructor(detail: string, loginCommand: string, options?: { cause?: unknown }) {
    super(ErrorCode.CALLBACK_INVALID, `the login's answer from the browser is not valid: ${oneLine(detail)}; run ${loginCommand} again`, options)
  }
}

/** A stored file (a session, or a profile's settings) that cannot be read or parsed. */
export class SessionFileError extends CliLoginError {
  readonly path: string
  readonly reason: string
  /** What is there is not a file at all (a fifo, a directory, a device): nothing to delete as a session. */
  readonly notRegular: boolean
  constructor(path: string, reason: string, options?: { cause?: unknown; what?: string; fix?: string; notRegular?: boolean }) {
    const what = options?.what ?? 'session'
    const fix = options?.fix ?? 'log out, or log in again to replace it'
    super(ErrorCode.SESSION_FILE_INVALID, `${path} is not a valid ${what} (${oneLine(reason)}): ${fix}`, options)
    this.path = path
    this.reason = reason
    this.notRegular = options?.notRegular ?? false
  }
}

export class StorageError extends CliLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.STORAGE_FAILED, oneLine(message), options)
  }
}

/**
 * Another process held the profile's lock for longer than a waiter waits. It is never taken over
 * while that process exists (it may be refreshing: a second refresh would lose the session).
 */
export class LockTimeoutError extends CliLoginError {
  readonly waitedMs: number
  /** The holder's process id, when the lock said. */
  readonly holderPid: number | undefined
  constructor(profile: string, waitedMs: number, holderPid?: number) {
    const who = holderPid === undefined ? 'another process' : `another process (pid ${holderPid})`
    super(ErrorCode.LOCK_TIMEOUT, `${who} is using the session of profile "${profile}" and still holds its lock; gave up after ${Math.round(waitedMs / 1000)} s: try again once it has finished`)
    this.waitedMs = waitedMs
    this.holderPid = holderPid
  }
}

/**
 * The OS keychain could not be used: no Secret Service, daemon gone, locked, an item that is
 * incomplete. One line: what failed and what to do; never the secret.
 */
export class KeychainError extends CliLoginError {
  readonly operation: 'get' | 'set' | 'delete' | 'probe'
  readonly service: string
  readonly account: string
  readonly reason: string
  constructor(
    operation: KeychainError['operation'],
    service: string,
    account: string,
    reason: string,
    options?: { cause?: unknown; fix?: string },
  ) {
    const what = operation === 'probe' ? 'the OS keychain cannot be used' : `could not ${KEYCHAIN_VERB[operation]} the keychain item ${JSON.stringify(`${service} ${account}`)}`
    const fix = options?.fix ?? 'check that the OS keychain is running and unlocked, or use file storage'
    super(ErrorCode.KEYCHAIN_UNAVAILABLE, `${what} (${clip(oneLine(reason))}): ${fix}`, options)
    this.operation = operation
    this.service = service
    this.account = account
    this.reason = reason
  }
}

const KEYCHAIN_VERB = { get: 'read', set: 'write', delete: 'delete', probe: 'probe' } as const

function clip(line: string): string {
  return line.length > 200 ? `${line.slice(0, 197)}...` : line
}

/** One line with no control characters: messages carry provider strings (error_description…). */
export function oneLine(text: string): string {
  return terminalText(text.replace(/\s+/g, ' ').trim())
}

/** The error and its causes, outermost first (bounded: a cause chain can be a cycle). */
export function causeChain(error: unknown, max = 6): unknown[] {
  const chain: unknown[] = []
  for (let e = error; e !== undefined && e !== null && chain.length < max; e = (e as { cause?: unknown }).cause) chain.push(e)
  return chain
}
