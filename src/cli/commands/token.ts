import { CliLogin } from '../../cli-login.ts'
import { bool, num, str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { formatToken } from './format-token.ts'

export async function runToken(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const auth = new CliLogin(baseOptions(options, ctx))
  const token = await auth.getAccessToken({ minTtlS: num(options, 'min-ttl'), forceRefresh: bool(options, 'force-refresh') })
  ctx.out(formatToken(token, str(options, 'format') ?? 'raw'))
  return 0
}
