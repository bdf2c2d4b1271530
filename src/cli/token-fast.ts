/**
 * `cli-login token` when the stored token is still fresh, the command scripts run before every
 * request: read session.json synchronously and print, with none of the rest of the CLI compiled
 * (bin/cli-login.cjs tries this first). It takes the same decisions as CliLogin.getAccessToken()
 * from the same functions; anything else (a refresh, an error, --force-refresh, a usage problem)
 * returns false and the full CLI handles it.
 */
import { readFileSync } from 'node:fs'
import { bool, num, parseCommandArgs, str } from './args.ts'
import { formatToken } from './commands/format-token.ts'
import { writeAllSync } from './write-sync.ts'
import { DEFAULTS } from '../options.ts'
import { profilePaths, resolveHome } from '../session/paths.ts'
import { accessTokenOf, isFresh, isSessionExpired, sessionShapeProblem, type Session } from '../session/session.ts'

export function tryFreshToken(argv: string[], env: NodeJS.ProcessEnv): boolean {
  let output: string
  try {
    const { help, options } = parseCommandArgs('token', argv, env)
    if (help || bool(options, 'force-refresh')) return false
    const home = resolveHome(str(options, 'home'), env, process.platform)
    const session = JSON.parse(readFileSync(profilePaths(home, str(options, 'profile') ?? DEFAULTS.profile).session, 'utf8')) as Session
    if (sessionShapeProblem(session) || isSessionExpired(session)) return false
    if (!isFresh(session, Math.floor(Date.now() / 1000), num(options, 'min-ttl') ?? DEFAULTS.minTtlS)) return false
    output = `${formatToken(accessTokenOf(session), str(options, 'format') ?? 'raw')}\n`
  } catch {
    return false
  }
  try {
    writeAllSync(1, output)
  } catch {
    // stdout is unusable (closed, EIO): printing again from the full CLI would not help
  }
  return true
}
