/**
 * `cli-login token` when the stored token is still fresh, the command scripts run before every
 * request: read session.json synchronously and print, with none of the rest of the CLI compiled
 * (bin/cli-login.cjs tries this first). It takes its decision with the library's own rule
 * (session/token-decision.ts); anything else (a refresh, an error, --force-refresh, another
 * target, a usage problem) returns false and the full CLI handles it.
 */
import { readFileSync, statSync } from 'node:fs'
import { bool, num, parseCommandArgs, str } from './args.ts'
import { cliHome } from './cli-app.ts'
import { formatToken, tokenProblem } from './commands/format-token.ts'
import { writeAllSync } from './write-sync.ts'
import { DEFAULTS } from '../options.ts'
import { profilePaths, profilesDir } from '../session/paths.ts'
import { sessionShapeProblem, type Session } from '../session/session.ts'
import { decideToken } from '../session/token-decision.ts'

export function tryFreshToken(argv: string[], env: NodeJS.ProcessEnv): boolean {
  let output: string
  try {
    const { help, options } = parseCommandArgs('token', argv, env)
    if (help || bool(options, 'force-refresh')) return false
    // Another API or scope is resolved against the session by the library: not here.
    if (str(options, 'audience') !== undefined || str(options, 'resource') !== undefined || str(options, 'scope') !== undefined) return false
    const home = cliHome(str(options, 'home'), env, process.platform)
    const paths = profilePaths(home, str(options, 'profile') ?? DEFAULTS.profile)
    if (!looksSafe([home, profilesDir(home), paths.dir], paths.session)) return false
    const session = JSON.parse(readFileSync(paths.session, 'utf8')) as Session
    if (sessionShapeProblem(session)) return false
    const decision = decideToken(session, {
      tokenType: str(options, 'token-type') === 'id' ? 'id' : 'access',
      nowS: Math.floor(Date.now() / 1000),
      minTtlS: num(options, 'min-ttl') ?? DEFAULTS.minTtlS,
    })
    if (decision.action !== 'use' || tokenProblem(decision.token.access_token) !== undefined) return false
    output = `${formatToken(decision.token, str(options, 'format') ?? 'raw')}\n`
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

/**
 * Anything the full CLI would refuse or fix with a warning (session/dir-safety.ts: a directory of
 * another user's or writable by others, a session file others can read) is left to it.
 */
function looksSafe(dirs: string[], file: string): boolean {
  const uid = process.getuid?.()
  if (uid === undefined) return true
  const unsafe = (path: string, mask: number) => {
    const stats = statSync(path)
    return stats.uid !== uid || (stats.mode & mask) !== 0
  }
  return !dirs.some((dir) => unsafe(dir, 0o022)) && !unsafe(file, 0o077)
}
