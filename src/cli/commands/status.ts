import { CliLogin } from '../../cli-login.ts'
import { nowSeconds } from '../../system.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import { ExitCode } from '../exit-codes.ts'
import type { CliContext } from '../io.ts'
import { baseOptions, describeStatus } from './shared.ts'

export async function runStatus(flags: CommandOptions<'status'>, ctx: CliContext): Promise<number> {
  const auth = new CliLogin({ ...baseOptions(ctx), ...libraryOptions('status', flags).options })
  const status = await auth.status()
  if (!status) {
    ctx.err(`Not logged in (profile "${auth.profile}"): run cli-login login`)
    return ExitCode.LOGIN_REQUIRED
  }
  const { session_expired: expired, ...summary } = status
  if (flags.json) ctx.out(JSON.stringify(summary))
  else for (const line of describeStatus(summary, nowSeconds(ctx.system))) ctx.out(line)
  if (expired) {
    ctx.err(`Session expired (profile "${auth.profile}"): the provider no longer accepts its refresh token: run cli-login login`)
    return ExitCode.LOGIN_REQUIRED
  }
  return 0
}
