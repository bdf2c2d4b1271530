import { CliLogin } from '../../cli-login.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions, describeStatus, loginCallbacks } from './shared.ts'
import { nowSeconds } from '../../system.ts'

export async function runLogin(flags: CommandOptions<'login'>, ctx: CliContext): Promise<number> {
  const auth = new CliLogin({ ...baseOptions(ctx), ...loginCallbacks(ctx), ...libraryOptions('login', flags).options })
  const result = await auth.login()
  for (const line of describeStatus(result, nowSeconds(ctx.system))) ctx.err(line)
  if (result.keychain_unavailable) {
    ctx.err(`No usable OS keychain (${result.keychain_unavailable}): the tokens are in ${auth.sessionLocation()} (0600). --storage keychain makes this an error.`)
  } else if (result.storage === 'keychain' && result.keychain_access_token) {
    ctx.err(`The tokens are in the OS keychain (service "cli-login"); ${auth.sessionLocation()} holds no secret.`)
  } else if (result.storage === 'keychain') {
    ctx.err(`The refresh token is in the OS keychain (service "cli-login"); ${auth.sessionLocation()} (0600) caches the current access and ID tokens (--keychain-access-token keeps them in the keychain only).`)
  }
  if (result.refresh_token_missing) {
    ctx.err('No refresh token was issued although offline_access was asked for: the login lasts only as long as the access token. Strict OpenID providers issue one only with --prompt consent.')
  }
  return 0
}
