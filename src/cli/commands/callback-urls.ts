import { callbackUrls, DEFAULTS, resolveRedirectSettings, type RedirectHost } from '../../options.ts'
import { FileSessionStore } from '../../session/file-store.ts'
import { resolveHome } from '../../session/paths.ts'
import { num, str, type ParsedOptions } from '../args.ts'
import type { CliContext } from '../io.ts'

export async function runCallbackUrls(options: ParsedOptions, ctx: CliContext): Promise<number> {
  const store = new FileSessionStore(resolveHome(str(options, 'home'), ctx.system.env, ctx.system.platform))
  const remembered = await store.readSettings(str(options, 'profile') ?? DEFAULTS.profile)
  const settings = resolveRedirectSettings(
    {
      port: num(options, 'port'),
      portAttempts: num(options, 'port-attempts'),
      redirectHost: str(options, 'redirect-host') as RedirectHost | undefined,
      redirectPath: str(options, 'redirect-path'),
    },
    remembered,
  )
  const urls = callbackUrls(settings)
  if (str(options, 'format') === 'auth0') ctx.out(urls.join(','))
  else for (const url of urls) ctx.out(url)
  return 0
}
