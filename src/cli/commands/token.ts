import { CliLogin, type AccessToken } from '../../cli-login.ts'
import { bool, num, str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'

export async function runToken(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const auth = new CliLogin(baseOptions(options, ctx))
  const token = await auth.getAccessToken({ minTtlS: num(options, 'min-ttl'), forceRefresh: bool(options, 'force-refresh') })
  ctx.out(formatToken(token, str(options, 'format') ?? 'raw'))
  return 0
}

export function formatToken(token: AccessToken, format: string): string {
  if (format === 'json') return JSON.stringify(token)
  if (format === 'header') return `Authorization: ${token.token_type} ${token.access_token}`
  return token.access_token
}
