/**
 * The profile lock (PRODUCT.md, Security requirements): one refresh at a time per profile, across
 * processes, so that a rotating refresh token is never sent twice. A lock file apart from the data
 * it guards, holding its owner; it is created whole (written under another name, then hard-linked
 * into place), so there is never a lock without an owner in it.
 *
 * Who may take a lock over — nobody else, ever:
 * - a holder on this machine whose process is gone (its pid is not there, or is there but started
 *   at another time: a reused pid). A holder whose process exists keeps the lock however long it
 *   takes (suspended, a slow provider): its waiters give up after `waitMs` (LockTimeoutError).
 * - a holder on another host (a shared home) whose renewals (every RENEW_MS) have not been seen
 *   for `staleMs`: a process there cannot be asked whether it exists.
 * Whatever else sits at the lock's path (a directory, a fifo…) ends the wait at once, with one line.
 *
 * Synchronous file calls on purpose: the token fast path takes the lock before anything async
 * runs, and the files are a few dozen bytes.
 */
import { closeSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, constants } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { LockTimeoutError, StorageError } from '../errors.ts'

export interface LockOptions<T = unknown> {
  /** How long to wait for another holder before giving up (LockTimeoutError). Default 60 s. */
  waitMs?: number
  /** A lock of another host's whose renewals have not been seen for this long is taken over. Default 30 s. */
  staleMs?: number
  /** How often the holder renews the lock (shows waiters on another host that it is alive). Default 5 s. */
  renewMs?: number
  /** Used in the error message. */
  profile?: string
  /** Polled while another process holds the lock: a value ends the wait without taking the lock; a throw ends it too. */
  whileWaiting?: () => Promise<T | undefined>
}

interface LockOwner {
  pid: number
  host: string
  nonce: string
  createdAt: number
  /** Linux: when the holder's process started (/proc/<pid>/stat), so that a reused pid is not taken for it. */
  started?: string
  /** Counted up by the holder every RENEW_MS while it holds the lock: a waiter on another host sees it live. */
  renewals?: number
  /** Taken by `cli-login token`'s fast path for the full CLI in the same process to adopt. */
  handover?: boolean
}

/** Longer than a provider request may take (openid-client gives up after 30 s), so that waiters outlast a slow refresh. */
export const LOCK_WAIT_MS = 60_000
const REMOTE_STALE_MS = 30_000
const RENEW_MS = 5_000
/** A lock file without a readable owner (left by an older version, or garbage) is taken over after this. */
const UNREADABLE_GRACE_MS = 2_000

/**
 * Runs `fn` while holding the lock. Waits (bounded by `waitMs`) while another live holder has it;
 * takes over only a lock that is abandoned (see the top of this file).
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions<T> = {}): Promise<T> {
  const waitMs = options.waitMs ?? LOCK_WAIT_MS
  const watcher = new LockWatcher(options.staleMs ?? REMOTE_STALE_MS)
  const owner = newOwner(`${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`)
  const started = Date.now()
  // Short polls: the wait is usually one refresh, and a waiter should see its result at once.
  const pollMs = 10
  for (;;) {
    if (createLockFile(lockPath, owner)) break
    const found = inspectLock(lockPath, true)
    if (found.kind === 'gone') continue
    if (found.kind === 'owner' && isHandoverFor(found.owner, owner)) {
      // Ours, from the fast path of this very process: adopt it (once: it stops being a handover).
      replaceLockFile(lockPath, owner)
      break
    }
    if (watcher.isAbandoned(found)) {
      removeAbandoned(lockPath, found)
      continue
    }
    if (Date.now() - started >= waitMs) throw new LockTimeoutError(options.profile ?? lockPath, Date.now() - started, holderPid(found))
    await sleep(pollMs + Math.random() * pollMs)
    const done = await options.whileWaiting?.()
    if (done !== undefined) return done
  }
  const renewal = setInterval(() => renew(lockPath, owner), options.renewMs ?? RENEW_MS)
  renewal.unref()
  try {
    return await fn()
  } finally {
    clearInterval(renewal)
    releaseIfOwned(lockPath, owner)
  }
}

/**
 * `cli-login token` on a session that needs a refresh: the fast path takes the profile's lock
 * synchronously, before the full CLI is even loaded, so that processes started at the same time
 * find it taken and wait for the token in the fast path instead of loading the CLI. The full CLI
 * of this process then adopts the lock (withFileLock). Returns the function that releases it
 * unadopted, when taken; undefined when another process holds it (or it cannot be created: the
 * full CLI then reports why).
 */
export function takeLockForHandover(lockPath: string): (() => void) | undefined {
  const owner: LockOwner = { ...newOwner(`${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`), handover: true }
  try {
    if (!createLockFile(lockPath, owner)) return undefined
  } catch {
    return undefined
  }
  const release = (): void => {
    const found = inspectLock(lockPath, false)
    if (found.kind !== 'owner' || found.owner.nonce !== owner.nonce || !found.owner.handover) return
    try {
      unlinkSync(lockPath)
    } catch {
      // already gone
    }
  }
  // Should the full CLI never get to the lock (an error before it), it goes with the process.
  process.once('exit', release)
  return release
}

/**
 * Follows one lock's holder for a waiter: whether it is abandoned, by the rules at the top of this
 * file. A holder on another host is judged by its renewals as this waiter sees them come.
 */
export class LockWatcher {
  private seen: { key: string; at: number } | undefined
  constructor(private readonly staleMs = REMOTE_STALE_MS) {}

  isAbandoned(found: Exclude<LockFound, { kind: 'gone' }>): boolean {
    if (found.kind === 'foreign') throw new StorageError(`${found.path} is not a lock file (${found.what}): remove it, then try again`)
    if (found.kind === 'unreadable') return Date.now() - found.mtimeMs > UNREADABLE_GRACE_MS
    const { owner } = found
    if (owner.host === hostName()) return !processExists(owner)
    const key = `${owner.nonce}:${owner.renewals ?? 0}`
    if (this.seen?.key !== key) this.seen = { key, at: Date.now() }
    return Date.now() - this.seen.at > this.staleMs
  }
}

/**
 * True while a holder that is not abandoned has the lock (what a waiter needs to know to keep
 * waiting). Anything at the lock's path that is not a lock file is not held: the full CLI then
 * says what is there.
 */
export function isLockHeld(lockPath: string, watcher = new LockWatcher()): boolean {
  const found = inspectLock(lockPath, false)
  if (found.kind === 'gone' || found.kind === 'foreign') return false
  return !watcher.isAbandoned(found)
}

/** The pid of the lock's holder, for the message of a waiter that gave up. */
export function lockHolderPid(lockPath: string): number | undefined {
  return holderPid(inspectLock(lockPath, false))
}

type LockFound =
  | { kind: 'gone' }
  | { kind: 'owner'; owner: LockOwner }
  /** A regular file without an owner in it. */
  | { kind: 'unreadable'; mtimeMs: number }
  /** Not a lock file: a directory, a fifo, a symlink to nothing… */
  | { kind: 'foreign'; path: string; what: string }

function holderPid(found: LockFound): number | undefined {
  return found.kind === 'owner' ? found.owner.pid : undefined
}

function newOwner(nonce: string): LockOwner {
  const started = processStat(process.pid)?.started
  return { pid: process.pid, host: hostName(), nonce, createdAt: Date.now(), ...(started ? { started } : {}) }
}

/**
 * What is at the lock's path. Only a regular file (or a symlink to one) is read, opened without
 * blocking: a fifo planted there would block a read for good. `strict`: a failure to look is a
 * StorageError (the library reports it); otherwise it counts as no lock (the fast path hands over).
 */
function inspectLock(lockPath: string, strict: boolean): LockFound {
  let fd: number | undefined
  try {
    const link = lstatSync(lockPath)
    const target = link.isSymbolicLink() ? statSync(lockPath, { throwIfNoEntry: false }) : link
    if (!target) return { kind: 'foreign', path: lockPath, what: 'a symbolic link to nothing' }
    if (!target.isFile()) return { kind: 'foreign', path: lockPath, what: target.isDirectory() ? 'a directory' : target.isFIFO() ? 'a named pipe' : 'not a regular file' }
    fd = openSync(lockPath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    const stats = fstatSync(fd)
    if (!stats.isFile()) return { kind: 'foreign', path: lockPath, what: 'not a regular file' }
    const owner = parseOwner(readFileSync(fd, 'utf8'))
    return owner ? { kind: 'owner', owner } : { kind: 'unreadable', mtimeMs: stats.mtimeMs }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' }
    if (!strict) return { kind: 'gone' }
    throw new StorageError(`could not read the lock file ${lockPath}: ${reasonOf(error)}`, { cause: error })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as LockOwner
    return typeof owner === 'object' && owner !== null && Number.isInteger(owner.pid) && typeof owner.nonce === 'string' && typeof owner.host === 'string' ? owner : undefined
  } catch {
    return undefined
  }
}

function isHandoverFor(holder: LockOwner, owner: LockOwner): boolean {
  return holder.handover === true && holder.pid === owner.pid && holder.host === owner.host
}

/** A holder on this machine is there while its process is (and is the same process: pids are reused). */
function processExists(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    // EPERM: there, another user's process (so not the holder, unless the pid was reused: the start time tells).
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const stat = processStat(owner.pid)
  if (stat === undefined) return true
  // A zombie has ended: only its parent has not collected its exit status yet.
  if (stat.state === 'Z' || stat.state === 'X') return false
  return owner.started === undefined || stat.started === owner.started
}

/** Linux: the process's state and start time in clock ticks since boot (fields 3 and 22 of /proc/<pid>/stat); undefined elsewhere. */
function processStat(pid: number): { state: string; started: string } | undefined {
  if (process.platform !== 'linux') return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0], started: fields[19] }
  } catch {
    return undefined
  }
}

/** Creates the lock with its owner in it, all at once; false when there is one already. */
function createLockFile(lockPath: string, owner: LockOwner): boolean {
  owner.createdAt = Date.now()
  const staged = writeStaged(lockPath, owner)
  try {
    linkSync(staged, lockPath)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // A filesystem without hard links: an exclusive create, then the owner (a waiter allows for the moment between).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createExclusive(lockPath, owner)
    throw new StorageError(`could not create the lock file ${lockPath}: ${code ?? (error as Error).message}`, { cause: error })
  } finally {
    try {
      unlinkSync(staged)
    } catch {
      // gone already
    }
  }
}

function createExclusive(lockPath: string, owner: LockOwner): boolean {
  return writeOwnerFile(lockPath, lockPath, owner)
}

/** The owner written to a new file beside the lock (never through whatever sits at the lock's path). */
function writeStaged(lockPath: string, owner: LockOwner): string {
  const staged = `${lockPath}.${owner.nonce}.${owner.renewals ?? 0}.new`
  if (!writeOwnerFile(staged, lockPath, owner)) throw new StorageError(`could not create the lock file ${lockPath}: ${staged} is there already`)
  return staged
}

/** Creates `path` holding the owner (an exclusive create: nothing is followed or replaced); false when something is there. */
function writeOwnerFile(path: string, lockPath: string, owner: LockOwner): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new StorageError(`could not create the lock file ${lockPath}: ${reasonOf(error)}`, { cause: error })
  }
  try {
    writeSync(fd, JSON.stringify(owner))
  } finally {
    closeSync(fd)
  }
  return true
}

function reasonOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message
}

/** Puts a new owner record in place of the current one (adopting a handover, renewing). */
function replaceLockFile(lockPath: string, owner: LockOwner): void {
  const staged = writeStaged(lockPath, owner)
  try {
    renameSync(staged, lockPath)
  } catch (error) {
    try {
      unlinkSync(staged)
    } catch {
      // gone already
    }
    throw new StorageError(`could not write the lock file ${lockPath}: ${reasonOf(error)}`, { cause: error })
  }
}

/** Shows a waiter on another host that the holder is alive. Only while the lock is still ours. */
function renew(lockPath: string, owner: LockOwner): void {
  const found = inspectLock(lockPath, false)
  if (found.kind !== 'owner' || found.owner.nonce !== owner.nonce) return
  owner.renewals = (owner.renewals ?? 0) + 1
  try {
    replaceLockFile(lockPath, owner)
  } catch {
    // the next renewal tries again
  }
}

/**
 * Moves the abandoned lock aside before deleting it, so two waiters that both saw it abandoned
 * cannot delete a fresh lock that one of them has just created: if what was moved aside is not
 * the lock we judged, it is put back.
 */
function removeAbandoned(lockPath: string, judged: LockFound): void {
  const aside = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}.stale`
  try {
    renameSync(lockPath, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw new StorageError(`could not remove the abandoned lock file ${lockPath}: ${reasonOf(error)}`, { cause: error })
  }
  const moved = inspectLock(aside, false)
  const sameLock = judged.kind === 'owner' ? moved.kind === 'owner' && moved.owner.nonce === judged.owner.nonce : moved.kind === 'unreadable'
  try {
    if (!sameLock) linkSync(aside, lockPath)
  } catch {
    // a new lock is there already
  }
  try {
    unlinkSync(aside)
  } catch {
    // gone already
  }
}

function releaseIfOwned(lockPath: string, owner: LockOwner): void {
  const found = inspectLock(lockPath, false)
  if (found.kind !== 'owner' || found.owner.nonce !== owner.nonce) return
  try {
    unlinkSync(lockPath)
  } catch {
    // gone already
  }
}

/** node:os only when a lock is looked at: the cached `token` path never loads it. */
function hostName(): string {
  return process.getBuiltinModule('node:os').hostname()
}
