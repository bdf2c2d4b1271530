import { CliLogin } from '../../cli-login.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { dpopLines, dpopRequestProblem, formatProblem, formatToken, tokenProblem } from './format-token.ts'
import { ErrorCode, ProviderError, UsageError } from '../../errors.ts'

export async function runToken(flags: CommandOptions<'token'>, ctx: CliContext): Promise<number> {
  const { options, call } = libraryOptions('token', flags)
  const format = flags.format ?? 'raw'
  const requestProblem = format === 'dpop' ? dpopRequestProblem(flags.method, flags.url) : undefined
  if (requestProblem) throw new UsageError(requestProblem)
  const auth = new CliLogin({ ...baseOptions(ctx), ...options })
  let token
  try {
    token = await auth.getAccessToken(call)
  } finally {
    // Ctrl-C or SIGTERM ends the wait at once, not a refresh under way: the process exits once it is stored.
    await auth.settled()
  }
  const problem = tokenProblem(token.access_token)
  if (problem) {
    const what = flags['token-type'] === 'id' ? 'ID token' : 'access token'
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the stored ${what} is not a valid bearer token (${problem}), so it is not printed: run cli-login login again`, { error: 'invalid_token' })
  }
  const refused = formatProblem(token, format)
  if (refused) throw new UsageError(refused)
  if (format === 'dpop') {
    const proof = token.proof ? await token.proof({ method: flags.method as string, url: flags.url as string }) : undefined
    ctx.out(dpopLines(token, proof))
    return 0
  }
  ctx.out(formatToken(token, format))
  return 0
}
