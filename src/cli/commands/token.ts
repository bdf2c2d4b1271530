import { CliLogin } from '../../cli-login.ts'
import { bool, num, str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { formatToken } from './format-token.ts'

export async function runToken(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const auth = new CliLogin(baseOptions(options, ctx))
  const token = await auth.getAccessToken({
    minTtlS: num(options, 'min-ttl'),
    forceRefresh: bool(options, 'force-refresh'),
    tokenType: str(options, 'token-type') as 'access' | 'id' | undefined,
    audience: str(options, 'audience'),
    resource: str(options, 'resource'),
    scope: str(options, 'scope'),
  })
  ctx.out(formatToken(token, str(options, 'format') ?? 'raw'))
  return 0
}
