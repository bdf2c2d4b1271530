import { CliLogin } from '../../cli-login.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions } from './shared.ts'

export async function runCallbackUrls(flags: CommandOptions<'callback-urls'>, ctx: CliContext): Promise<number> {
  const urls = await new CliLogin({ ...baseOptions(ctx), ...libraryOptions('callback-urls', flags).options }).callbackUrls()
  if (flags.format === 'auth0') ctx.out(urls.join(','))
  else for (const url of urls) ctx.out(url)
  return 0
}
