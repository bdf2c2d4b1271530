import { CliLogin } from '../../cli-login.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { CliLoginError, ErrorCode, ProviderError } from '../../errors.ts'

export async function runLogout(flags: CommandOptions<'logout'>, ctx: CliContext): Promise<number> {
  const { options, call } = libraryOptions('logout', flags)
  const base = { ...baseOptions(ctx), ...options }
  const profiles = flags.all ? await new CliLogin(base).listProfiles() : [new CliLogin(base).profile]
  if (profiles.length === 0) ctx.err('Not logged in on any profile; nothing to do.')
  for (const profile of profiles) {
    const result = await new CliLogin({ ...base, profile }).logout(call)
    if (result.refreshTokenLeftValid) ctx.err(`The refresh token was not revoked: ${whyNotRevoked(result.revocationError)}; it stays valid at the provider until it expires.`)
    if (result.deleted) ctx.err(`Logged out of profile "${profile}"${result.revoked ? ' (refresh token revoked)' : ''}.`)
    else ctx.err(`Not logged in (profile "${profile}"); nothing to do.`)
    const end = result.endSession
    if (end && !end.opened) {
      const why =
        end.reason === 'unsupported' ? 'the provider has no end-session endpoint'
        : end.reason === 'no-issuer' ? 'the profile has no provider'
        : end.reason === 'disabled' ? '--no-browser'
        : 'detail' in end && end.detail ? end.detail
        : 'no browser could be opened'
      ctx.err(`The provider's browser session was not ended (${why}): sign out there in your browser to pick another account next time.`)
    } else if (end?.opened) {
      ctx.err("Opened the browser to end the provider's session.")
    }
  }
  return 0
}

function whyNotRevoked(error: CliLoginError | undefined): string {
  if (!error) return 'the provider has no revocation endpoint'
  if (error.code === ErrorCode.PROVIDER_UNREACHABLE) return 'the provider could not be reached'
  if (error instanceof ProviderError && error.status !== undefined && error.status >= 400 && error.status < 500) {
    const detail = error.error ? `, ${error.error}` : ''
    return `the provider refused to revoke it (HTTP ${error.status}${detail}; many providers revoke only for clients that authenticate with a secret)`
  }
  if (error instanceof ProviderError && error.error) return `the provider answered ${error.error}${error.status ? ` (HTTP ${error.status})` : ''}`
  return error instanceof ProviderError && error.status ? `the provider answered HTTP ${error.status}` : 'the revocation request failed'
}
