import { CliLogin } from '../../cli-login.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'
import { formatToken, tokenProblem } from './format-token.ts'
import { ErrorCode, ProviderError } from '../../errors.ts'

export async function runToken(flags: CommandOptions<'token'>, ctx: CliContext): Promise<number> {
  const { options, call } = libraryOptions('token', flags)
  const token = await new CliLogin({ ...baseOptions(ctx), ...options }).getAccessToken(call)
  const problem = tokenProblem(token.access_token)
  if (problem) {
    const what = flags['token-type'] === 'id' ? 'ID token' : 'access token'
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the stored ${what} is not a valid bearer token (${problem}), so it is not printed: run cli-login login again`, { error: 'invalid_token' })
  }
  ctx.out(formatToken(token, flags.format ?? 'raw'))
  return 0
}
