/**
 * `cli-login token` on the path scripts run before every request, with none of the rest of the CLI
 * compiled (bin/cli-login.cjs tries this first):
 * - a fresh stored token: read session.json synchronously and print (a session whose secrets are
 *   in the keychain caches its access and ID tokens there too; only one that keeps them in the
 *   keychain alone makes the file say whether the token is fresh, then the one keychain item that
 *   holds it is read, the binding loaded only then);
 * - a token that needs a refresh: one process refreshes (it takes the profile's lock here and the
 *   full CLI adopts it); every other process started meanwhile finds the lock taken and waits here
 *   for the token the refresher stores, instead of loading the CLI just to wait.
 * Decisions come from the library's own rule (session/token-decision.ts). Anything else (an error,
 * --force-refresh, another target, a usage problem, a keychain that fails, a refresher that died)
 * returns false and the full CLI handles it, saying what is wrong.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { parseSpecArgs, plainTokens } from './option-parser.ts'
import { TOKEN_SPEC } from './token-options.ts'
import { CLI_APP, cliHome } from './cli-app.ts'
import { dpopLines, dpopRequestProblem, formatProblem, formatToken, isDpopToken, tokenProblem } from './commands/format-token.ts'
import { writeAllSync } from './write-sync.ts'
import { DEFAULTS } from '../options.ts'
import { isOwnAndTight, LOOSE_DIRECTORY_BITS, LOOSE_SESSION_FILE_BITS } from '../session/dir-safety.ts'
import { isLockHeld, LOCK_WAIT_MS, LockWatcher, lockHolderPid, takeLockForHandover } from '../session/lock.ts'
import { LockTimeoutError } from '../errors.ts'
import { profilePaths, profilesDir } from '../session/paths.ts'
import { readDefaultProfile } from '../session/home-config.ts'
import { isSessionExpired, sessionShapeProblem, type AccessToken, type Session } from '../session/session.ts'
import { decideToken, isFresh, storedToken, type TokenRequest } from '../session/token-decision.ts'
import { signProofSync } from '../protocol/dpop-proof.ts'

/** Between looks when no file event comes (a watcher can miss the rename on some filesystems). */
const RECHECK_MS = 25

interface Asked {
  request: TokenRequest
  format: string
  /** `--format dpop`: the request the proof is for. */
  dpop?: { method: string; url: string }
  profile: string
  paths: ReturnType<typeof profilePaths>
}

export function tryFreshToken(argv: string[], env: NodeJS.ProcessEnv): boolean | Promise<boolean> {
  let asked: Asked
  let session: Session
  try {
    const tokens = plainTokens(TOKEN_SPEC, argv)
    if (!tokens) return false
    const { help, options } = parseSpecArgs(TOKEN_SPEC, argv, env, tokens)
    if (help || options['force-refresh']) return false
    // Another API or scope is resolved against the session by the library: not here.
    if (options.audience !== undefined || options.resource !== undefined || options.scope !== undefined) return false
    const home = cliHome(options.home, env, process.platform)
    // As the library does: no profile named, the home's default (cli-login use), else "default".
    const profile = options.profile ?? readDefaultProfile(home) ?? DEFAULTS.profile
    const paths = profilePaths(home, profile)
    if (!looksSafe([home, profilesDir(home), paths.dir], paths.session)) return false
    const read = readSession(paths.session)
    if (!read) return false
    session = read
    // An explicit --storage (or --keychain-access-token) the session is not stored by: the full CLI moves it.
    const storage = options.storage
    if (storage !== undefined && storage !== 'auto' && storage !== (session.storage ?? 'file')) return false
    const keychainOnly = options['keychain-access-token']
    if (session.storage === 'keychain' && keychainOnly !== undefined && keychainOnly !== inKeychainOnly(session)) return false
    const request: TokenRequest = {
      tokenType: options['token-type'] === 'id' ? 'id' : 'access',
      nowS: nowS(),
      minTtlS: options['min-ttl'] ?? DEFAULTS.minTtlS,
    }
    const format = options.format ?? 'raw'
    // A usage problem is the full CLI's to say.
    if (format === 'dpop' && dpopRequestProblem(options.method, options.url)) return false
    asked = { request, format, profile, paths, ...(format === 'dpop' ? { dpop: { method: options.method as string, url: options.url as string } } : {}) }
    const decision = decideToken(tokenView(session), request)
    if (decision.action === 'use') return printToken(asked, session, decision.token)
    if (decision.action !== 'refresh') return false
    const release = takeLockForHandover(paths.lock)
    if (release) {
      // Under the lock: the process that held it before may have refreshed since we read.
      const current = readSession(paths.session)
      const now = current && decideToken(tokenView(current), { ...request, nowS: nowS() })
      if (!current || now?.action !== 'use') return false // ours to refresh: the full CLI adopts the lock
      release()
      return printToken(asked, current, now.token)
    }
  } catch {
    return false
  }
  return waitForRefreshedToken(asked, session).catch(() => false)
}

/** Another process is refreshing: print the token it stores, as soon as it is stored. */
async function waitForRefreshedToken(asked: Asked, seen: Session): Promise<boolean> {
  const { paths, request } = asked
  const seenStamp = refreshStamp(seen, request)
  // Taken as long as it is valid at all, as the library's waiters do (a provider may issue
  // tokens shorter-lived than --min-ttl).
  const refreshed = (current: Session | undefined): AccessToken | undefined => {
    if (!current || isSessionExpired(current) || refreshStamp(current, request) === seenStamp) return undefined
    const token = storedToken(tokenView(current), request)
    return token && isFresh(token.expires_at, nowS(), 0) ? token : undefined
  }
  const deadline = Date.now() + LOCK_WAIT_MS
  const holder = new LockWatcher()
  let wake: (() => void) | undefined
  let watcher: FSWatcher | undefined
  try {
    // Only the session's and the lock's own names: the refresher's staged files would wake every
    // waiter for nothing, taking the CPU the refresher needs (20 waiters on 2 cores).
    const names = new Set([basename(paths.session), basename(paths.lock)])
    watcher = watch(dirname(paths.session), (_event, name) => {
      if (name === null || names.has(String(name))) wake?.()
    })
  } catch {
    // no watcher: the periodic look below still sees the refresh
  }
  try {
    for (;;) {
      const current = readSession(paths.session)
      // A refresh the provider rejected, a refresher that died, a wait too long: the full CLI says what happened.
      if (!current || isSessionExpired(current)) return false
      const token = refreshed(current)
      if (token) return await printToken(asked, current, token)
      if (!isLockHeld(paths.lock, holder)) {
        // Released: either just after storing its token (look once more) or without one.
        const last = readSession(paths.session)
        const stored = refreshed(last)
        return last && stored ? await printToken(asked, last, stored) : false
      }
      if (Date.now() > deadline) return gaveUp(asked)
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

/**
 * The refresher still holds the lock after the bound: it is never taken over while its process
 * exists (PRODUCT.md), so this ends as the library's waiters do, with its one line (exit 1), rather
 * than the full CLI waiting as long again.
 */
function gaveUp(asked: Asked): true {
  const error = new LockTimeoutError(asked.profile, LOCK_WAIT_MS, lockHolderPid(asked.paths.lock))
  try {
    writeAllSync(2, `cli-login: ${error.message}\n`)
  } catch {
    // stderr is unusable: the exit code still says it
  }
  process.exitCode = 1
  return true
}

/**
 * What the decision is taken on. A keychain session caches its access and ID tokens in the file
 * (session/keychain-store.ts) unless it keeps them in the keychain only: then its expiries decide,
 * and the token itself is read from the keychain afterwards.
 */
export function tokenView(session: Session): Session {
  if (!inKeychainOnly(session)) return session
  return { ...session, accessToken: '-', idToken: session.idTokenExpiresAt === undefined ? undefined : '-' }
}

export function inKeychainOnly(session: Session): boolean {
  return session.storage === 'keychain' && session.accessToken === undefined
}

/** Changes with every refresh of what was asked for, whether the token is in the file or the keychain. */
function refreshStamp(session: Session, request: TokenRequest): string {
  const token = storedToken(tokenView(session), request)
  return `${token?.access_token}|${token?.expires_at}|${session.refreshedAt ?? session.createdAt}`
}

/**
 * Prints the token (read from the keychain when the session keeps it there); false when that fails
 * or the token is not one to print (the full CLI says why).
 */
function printToken(asked: Asked, session: Session, token: AccessToken): boolean | Promise<boolean> {
  // A DPoP-bound token is refused by raw, header and k8s (the full CLI says so).
  if (formatProblem(token, asked.format)) return false
  if (asked.dpop && isDpopToken(token)) return printDpop(asked.dpop, session, token)
  const format = (value: AccessToken) => (asked.format === 'dpop' ? dpopLines(value, undefined) : formatToken(value, asked.format))
  const printable = (value: string) => tokenProblem(value) === undefined && print(format({ ...token, access_token: value }))
  if (!inKeychainOnly(session)) return printable(token.access_token)
  return keychainToken(asked.profile, asked.request.tokenType ?? 'access').then(
    (secret) => secret !== undefined && printable(secret),
    () => false,
  )
}

/**
 * `--format dpop` of a DPoP session whose key is in the file (file storage; with the keychain the
 * full CLI reads it): the proof signed with node:crypto alone (synchronously), the last nonce of the
 * URL's origin in it.
 */
function printDpop(request: { method: string; url: string }, session: Session, token: AccessToken): boolean {
  const jwk = session.dpopKey
  if (!jwk || tokenProblem(token.access_token) !== undefined) return false
  const nonce = session.dpopNonces?.[new URL(request.url).origin]
  return print(dpopLines(token, signProofSync(jwk, { ...request, accessToken: token.access_token, nonce })))
}

/**
 * Anything the full CLI would refuse or fix with a warning (session/dir-safety.ts: a directory of
 * another user's or writable by others, a session file others can read) is left to it.
 */
export function looksSafe(dirs: string[], file: string): boolean {
  const uid = process.getuid?.()
  if (uid === undefined) return true
  return dirs.every((dir) => isOwnAndTight(statSync(dir), uid, LOOSE_DIRECTORY_BITS)) && isOwnAndTight(statSync(file), uid, LOOSE_SESSION_FILE_BITS)
}

async function keychainToken(profile: string, tokenType: 'access' | 'id'): Promise<string | undefined> {
  const { getLarge, keychainAccount, nativeKeychain, SESSION_ITEMS } = await import('../session/keychain.ts')
  const keychain = nativeKeychain()
  if (tokenType === 'access') return getLarge(keychain, CLI_APP.appName, keychainAccount(profile, SESSION_ITEMS.accessToken))
  const secrets = await getLarge(keychain, CLI_APP.appName, keychainAccount(profile, SESSION_ITEMS.secrets))
  const idToken = secrets === undefined ? undefined : (JSON.parse(secrets) as { idToken?: unknown }).idToken
  return typeof idToken === 'string' ? idToken : undefined
}

/** The session, when it is a regular file that parses as one; a fifo there is opened without blocking and left to the full CLI to report. */
export function readSession(path: string): Session | undefined {
  let fd: number | undefined
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    if (!fstatSync(fd).isFile()) return undefined
    const session = JSON.parse(readFileSync(fd, 'utf8')) as Session
    return sessionShapeProblem(session) ? undefined : session
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
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
