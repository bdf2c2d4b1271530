import { CliLogin } from '../../cli-login.ts'
import type { ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { loginOptions, describeStatus } from './shared.ts'
import { nowSeconds } from '../../system.ts'

export async function runLogin(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const auth = new CliLogin(loginOptions(options, ctx))
  const result = await auth.login()
  for (const line of describeStatus(result, nowSeconds(ctx.system))) ctx.err(line)
  if (result.refresh_token_missing) {
    ctx.err('No refresh token was issued although offline_access was asked for: the login lasts only as long as the access token. Strict OpenID providers issue one only with --prompt consent.')
  }
  return 0
}
