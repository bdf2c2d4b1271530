import { CliLogin } from '../../cli-login.ts'
import { bool, num, str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { formatToken, tokenProblem } from './format-token.ts'
import { ErrorCode, ProviderError } from '../../errors.ts'

export async function runToken(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const auth = new CliLogin(baseOptions(options, ctx))
  let token
  try {
    token = await auth.getAccessToken({
      minTtlS: num(options, 'min-ttl'),
      forceRefresh: bool(options, 'force-refresh'),
      tokenType: str(options, 'token-type') as 'access' | 'id' | undefined,
      audience: str(options, 'audience'),
      resource: str(options, 'resource'),
      scope: str(options, 'scope'),
    })
  } finally {
    // Ctrl-C or SIGTERM ends the wait at once, not a refresh under way: the process exits once it is stored.
    await auth.settled()
  }
  const problem = tokenProblem(token.access_token)
  if (problem) {
    const what = str(options, 'token-type') === 'id' ? 'ID token' : 'access token'
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the stored ${what} is not a valid bearer token (${problem}), so it is not printed: run cli-login login again`, { error: 'invalid_token' })
  }
  ctx.out(formatToken(token, str(options, 'format') ?? 'raw'))
  return 0
}
