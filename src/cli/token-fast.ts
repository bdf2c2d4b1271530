/**
 * `cli-login token` on the path scripts run before every request, with none of the rest of the CLI
 * compiled (bin/cli-login.cjs tries this first):
 * - a fresh stored token: read session.json synchronously and print;
 * - a token that needs a refresh: one process refreshes (it takes the profile's lock here and the
 *   full CLI adopts it); every other process started meanwhile finds the lock taken and waits here
 *   for the token the refresher stores, instead of loading the CLI just to wait.
 * Decisions come from the library's own rule (session/token-decision.ts). Anything else (an error,
 * --force-refresh, another target, a usage problem, a refresher that died) returns false and the
 * full CLI handles it.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import { bool, num, parseCommandArgs, str } from './args.ts'
import { cliHome } from './cli-app.ts'
import { formatToken } from './commands/format-token.ts'
import { writeAllSync } from './write-sync.ts'
import { DEFAULTS } from '../options.ts'
import { isLockHeld, takeLockForHandover } from '../session/lock.ts'
import { profilePaths } from '../session/paths.ts'
import { sessionShapeProblem, type AccessToken, type Session } from '../session/session.ts'
import { decideToken, isFresh, storedToken, type TokenRequest } from '../session/token-decision.ts'

/** How long a waiter waits for another process's refresh, as the library's lock does. */
const WAIT_MS = 60_000
/** Between looks when no file event comes (a watcher can miss the rename on some filesystems). */
const RECHECK_MS = 25

export function tryFreshToken(argv: string[], env: NodeJS.ProcessEnv): boolean | Promise<boolean> {
  let format: string
  let paths: ReturnType<typeof profilePaths>
  let session: Session
  let request: TokenRequest
  try {
    const { help, options } = parseCommandArgs('token', argv, env)
    if (help || bool(options, 'force-refresh')) return false
    // Another API or scope is resolved against the session by the library: not here.
    if (str(options, 'audience') !== undefined || str(options, 'resource') !== undefined || str(options, 'scope') !== undefined) return false
    format = str(options, 'format') ?? 'raw'
    paths = profilePaths(cliHome(str(options, 'home'), env, process.platform), str(options, 'profile') ?? DEFAULTS.profile)
    const read = readSession(paths.session)
    if (!read) return false
    session = read
    request = {
      tokenType: str(options, 'token-type') === 'id' ? 'id' : 'access',
      nowS: nowS(),
      minTtlS: num(options, 'min-ttl') ?? DEFAULTS.minTtlS,
    }
    const decision = decideToken(session, request)
    if (decision.action === 'use') return print(formatToken(decision.token, format))
    if (decision.action !== 'refresh') return false
    const release = takeLockForHandover(paths.lock)
    if (release) {
      // Under the lock: the process that held it before may have refreshed since we read.
      const current = readSession(paths.session)
      const now = current && decideToken(current, { ...request, nowS: nowS() })
      if (now?.action !== 'use') return false // ours to refresh: the full CLI adopts the lock
      release()
      return print(formatToken(now.token, format))
    }
  } catch {
    return false
  }
  return waitForRefreshedToken(paths, session, request, format).catch(() => false)
}

/** Another process is refreshing: print the token it stores, as soon as it is stored. */
async function waitForRefreshedToken(
  paths: ReturnType<typeof profilePaths>,
  seen: Session,
  request: TokenRequest,
  format: string,
): Promise<boolean> {
  const seenToken = storedToken(seen, request)?.access_token
  const deadline = Date.now() + WAIT_MS
  let wake: (() => void) | undefined
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(paths.session), () => wake?.())
  } catch {
    // no watcher: the periodic look below still sees the refresh
  }
  try {
    // Taken as long as it is valid at all, as the library's waiters do (a provider may issue
    // tokens shorter-lived than --min-ttl).
    const refreshed = (current: Session): AccessToken | undefined => {
      const token = storedToken(current, request)
      return token && token.access_token !== seenToken && isFresh(token.expires_at, nowS(), 0) ? token : undefined
    }
    for (;;) {
      const current = readSession(paths.session)
      // A refresh the provider rejected, a refresher that died, a wait too long: the full CLI says what happened.
      if (!current || current.refreshRejectedAt !== undefined) return false
      const token = refreshed(current)
      if (token) return print(formatToken(token, format))
      if (!isLockHeld(paths.lock)) {
        // Released: either just after storing its token (look once more) or without one.
        const last = readSession(paths.session)
        const stored = last && last.refreshRejectedAt === undefined ? refreshed(last) : undefined
        return stored ? print(formatToken(stored, format)) : false
      }
      if (Date.now() > deadline) return false
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RECHECK_MS)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  } finally {
    watcher?.close()
  }
}

function readSession(path: string): Session | undefined {
  try {
    const session = JSON.parse(readFileSync(path, 'utf8')) as Session
    return sessionShapeProblem(session) ? undefined : session
  } catch {
    return undefined
  }
}

function nowS(): number {
  return Math.floor(Date.now() / 1000)
}

function print(text: string): true {
  try {
    writeAllSync(1, `${text}\n`)
  } catch {
    // stdout is unusable (closed, EIO): printing again from the full CLI would not help
  }
  return true
}
