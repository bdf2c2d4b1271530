import { LoginCancelledError, LoginRequiredError, UsageError } from '../errors.ts'

export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2, LOGIN_REQUIRED: 4, INTERRUPTED: 130 } as const

/** The one place errors become exit codes. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.USAGE
  if (error instanceof LoginRequiredError) return ExitCode.LOGIN_REQUIRED
  if (error instanceof LoginCancelledError) return ExitCode.INTERRUPTED
  return ExitCode.FAILURE
}
