import { CliLogin } from '../../cli-login.ts'
import { str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions, redirectOptions } from './shared.ts'

export async function runCallbackUrls(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const urls = await new CliLogin({ ...baseOptions(options, ctx), ...redirectOptions(options) }).callbackUrls()
  if (str(options, 'format') === 'auth0') ctx.out(urls.join(','))
  else for (const url of urls) ctx.out(url)
  return 0
}
