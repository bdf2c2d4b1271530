/**
 * Every error the library throws on purpose is a CliLoginError with a stable `code`.
 * Messages are one line: what happened and what to do. They never contain a token or secret.
 */
export const ErrorCode = {
  USAGE: 'USAGE',
  LOGIN_REQUIRED: 'LOGIN_REQUIRED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  LOGIN_TIMEOUT: 'LOGIN_TIMEOUT',
  LOGIN_CANCELLED: 'LOGIN_CANCELLED',
  PORTS_UNAVAILABLE: 'PORTS_UNAVAILABLE',
  PROVIDER_UNREACHABLE: 'PROVIDER_UNREACHABLE',
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  CALLBACK_INVALID: 'CALLBACK_INVALID',
  SESSION_FILE_INVALID: 'SESSION_FILE_INVALID',
  STORAGE_FAILED: 'STORAGE_FAILED',
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
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

/** Bad flags, env vars or library options. */
export class UsageError extends CliLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.USAGE, message, options)
  }
}

/** No usable session: the user has to run `login`. */
export class LoginRequiredError extends CliLoginError {
  readonly profile: string
  constructor(profile: string, message?: string, code: ErrorCode = ErrorCode.LOGIN_REQUIRED, options?: { cause?: unknown }) {
    super(code, message ?? `not logged in (profile "${profile}"): run cli-login login`, options)
    this.profile = profile
  }
}

/** The provider no longer honours the refresh token (invalid_grant). */
export class SessionExpiredError extends LoginRequiredError {
  constructor(profile: string, options?: { cause?: unknown }) {
    super(profile, `session expired (profile "${profile}"): run cli-login login`, ErrorCode.SESSION_EXPIRED, options)
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
  constructor(seconds: number, what = 'no answer from the browser') {
    super(ErrorCode.LOGIN_TIMEOUT, `${what} after ${seconds} s: run cli-login login again (--timeout sets the limit)`)
  }
}

export class LoginCancelledError extends CliLoginError {
  constructor() {
    super(ErrorCode.LOGIN_CANCELLED, 'login cancelled')
  }
}

export class PortsUnavailableError extends CliLoginError {
  readonly host: string
  readonly firstPort: number
  readonly lastPort: number
  constructor(host: string, firstPort: number, lastPort: number, options?: { cause?: unknown }) {
    const range = firstPort === lastPort ? `port ${firstPort}` : `ports ${firstPort}-${lastPort}`
    super(
      ErrorCode.PORTS_UNAVAILABLE,
      `${range} on ${host} ${firstPort === lastPort ? 'is' : 'are all'} in use: free one or pass --port / --port-attempts`,
      options,
    )
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
    code: typeof ErrorCode.PROVIDER_UNREACHABLE | typeof ErrorCode.PROVIDER_ERROR,
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
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CALLBACK_INVALID, oneLine(message), options)
  }
}

/** A stored file (a session, or a profile's settings) that cannot be read or parsed. */
export class SessionFileError extends CliLoginError {
  readonly path: string
  constructor(path: string, reason: string, options?: { cause?: unknown; what?: string; fix?: string }) {
    const what = options?.what ?? 'session'
    const fix = options?.fix ?? 'run cli-login logout, or cli-login login to replace it'
    super(ErrorCode.SESSION_FILE_INVALID, `${path} is not a valid ${what} (${oneLine(reason)}): ${fix}`, options)
    this.path = path
  }
}

export class StorageError extends CliLoginError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.STORAGE_FAILED, oneLine(message), options)
  }
}

export class LockTimeoutError extends CliLoginError {
  constructor(profile: string, waitedMs: number) {
    super(
      ErrorCode.LOCK_TIMEOUT,
      `another cli-login is using profile "${profile}"; gave up after ${Math.round(waitedMs / 1000)} s: try again`,
    )
  }
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}
