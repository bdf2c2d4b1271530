/** `cli-login fetch <url>`: one request with the session's token, the answer as curl gives it. */
import { CliLogin } from '../../cli-login.ts'
import { causeChain, CliLoginError, UsageError } from '../../errors.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { cliRequest, fromFetchResponse, unreachableLine, writeResponse } from '../fetch-request.ts'
import { terminalText } from '../../terminal-text.ts'
import { baseOptions } from './shared.ts'

export async function runFetch(flags: CommandOptions<'fetch'>, ctx: CliContext, url?: string): Promise<number> {
  if (url === undefined) throw new UsageError('expected one url')
  const parsed = URL.parse(url)
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) throw new UsageError(`the url must be an http(s) URL, not ${JSON.stringify(terminalText(url))}`)
  const request = await cliRequest(flags, () => ctx.readStdin())
  const { options } = libraryOptions('fetch', flags)
  // Never a browser: a step-up or a login needed is exit 4 with the command to run.
  const auth = new CliLogin({ ...baseOptions(ctx), ...options, noBrowser: true })
  let response: Response
  try {
    response = await auth.fetch(url, { method: request.method, headers: request.headers, body: request.body as BodyInit | undefined, interactive: false, refusedWith: ctx.handover.refusedWith, signal: ctx.signal })
  } catch (error) {
    if (error instanceof CliLoginError || ctx.signal.aborted) throw error
    // The platform's fetch failed (refused, reset, DNS: undici's "fetch failed", or an error with a
    // system code): one line, as for any other failure. Anything else is not the network's.
    const code = causeChain(error).map((e) => (e as { code?: unknown }).code).find((c): c is string => typeof c === 'string')
    if (code === undefined && !(error instanceof TypeError && error.message === 'fetch failed')) throw error
    ctx.err(unreachableLine(parsed.origin, code ?? 'network error'))
    return 1
  } finally {
    await auth.settled()
  }
  return writeResponse(fromFetchResponse(response), terminalText(url), flags.include ?? false, { out: (bytes) => ctx.writeOut(bytes), err: (line) => ctx.err(line) })
}
