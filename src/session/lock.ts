import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { link, lstat, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { LockTimeoutError, StorageError } from '../errors.ts'

export interface LockOptions<T = unknown> {
  /** How long to wait for another holder before giving up (LockTimeoutError). */
  waitMs?: number
  /** A lock older than this is taken to be abandoned even if its holder still seems alive. */
  staleMs?: number
  /** Used in the error message. */
  profile?: string
  /** Polled while another process holds the lock: a value ends the wait without taking the lock. */
  whileWaiting?: () => Promise<T | undefined>
}

interface LockOwner {
  pid: number
  host: string
  nonce: string
  createdAt: number
  /** Taken by `cli-login token`'s fast path for the full CLI in the same process to adopt. */
  handover?: boolean
}

/**
 * Runs `fn` while holding an exclusive lock file (created with O_EXCL, separate from the data it
 * guards). A lock whose holder died (same host, pid gone) or that is older than `staleMs` is
 * taken over; waits are bounded by `waitMs`.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions<T> = {}): Promise<T> {
  // Longer than a provider request may take (openid-client gives up after 30 s), so that waiters
  // outlast a slow refresh instead of all failing just as it completes.
  const waitMs = options.waitMs ?? 60_000
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS
  const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), createdAt: Date.now() }
  const started = Date.now()
  // Short polls: the wait is usually one refresh, and a waiter should see its result at once.
  const pollMs = 10
  for (;;) {
    if (await tryCreate(lockPath, owner)) break
    const holder = await readOwner(lockPath)
    if (holder === 'gone') continue
    if (isHandoverFor(holder, owner)) {
      // Ours, from the fast path of this very process: adopt it (once: it stops being a handover).
      await writeFile(lockPath, JSON.stringify(owner))
      break
    }
    if (isAbandoned(holder, staleMs)) {
      await removeAbandoned(lockPath, holder)
      continue
    }
    if (Date.now() - started >= waitMs) throw new LockTimeoutError(options.profile ?? lockPath, Date.now() - started)
    await sleep(pollMs + Math.random() * pollMs)
    const done = await options.whileWaiting?.()
    if (done !== undefined) return done
  }
  try {
    return await fn()
  } finally {
    await releaseIfOwned(lockPath, owner)
  }
}

async function tryCreate(lockPath: string, owner: LockOwner): Promise<boolean> {
  owner.createdAt = Date.now()
  try {
    const file = await open(lockPath, 'wx', 0o600)
    try {
      await file.writeFile(JSON.stringify(owner))
    } finally {
      await file.close()
    }
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new StorageError(`could not create the lock file ${lockPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
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
  // Not node:crypto: the fast path stays clear of loading it, and this nonce only tells locks apart.
  const nonce = `${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`
  const owner: LockOwner = { pid: process.pid, host: hostname(), nonce, createdAt: Date.now(), handover: true }
  let fd: number
  try {
    fd = openSync(lockPath, 'wx', 0o600)
  } catch {
    return undefined
  }
  try {
    writeSync(fd, JSON.stringify(owner))
  } finally {
    closeSync(fd)
  }
  const release = (): void => {
    const current = readLockOwnerSync(lockPath)
    if (current?.nonce !== owner.nonce || !current.handover) return
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

function isHandoverFor(holder: LockOwner, owner: LockOwner): boolean {
  return holder.handover === true && holder.pid === owner.pid && holder.host === owner.host
}

/** The lock's owner, read synchronously (the fast path); undefined when there is no readable lock. */
function readLockOwnerSync(lockPath: string): LockOwner | undefined {
  try {
    // Only a regular file is read: a fifo planted there would block the read for good.
    if (!statSync(lockPath, { throwIfNoEntry: false })?.isFile()) return undefined
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as LockOwner
    return typeof owner.pid === 'number' && typeof owner.nonce === 'string' ? owner : undefined
  } catch {
    return undefined
  }
}

/**
 * True while a live process holds the lock (what a waiter needs to know to keep waiting). Anything
 * at the lock's path that is not a regular file is not held: the full CLI then says what is there.
 */
export function isLockHeld(lockPath: string, staleMs = DEFAULT_STALE_MS): boolean {
  const owner = readLockOwnerSync(lockPath)
  if (owner) return !isAbandoned(owner, staleMs)
  // There but not (yet, or being re-) written: held by whoever is writing it, for a moment.
  try {
    const stats = statSync(lockPath, { throwIfNoEntry: false })
    return stats !== undefined && stats.isFile() && Date.now() - stats.mtimeMs <= UNWRITTEN_GRACE_MS
  } catch {
    return false
  }
}

const DEFAULT_STALE_MS = 60_000

/**
 * Only a regular file (or a symlink to one) can be a lock: anything else there (a dangling symlink,
 * a directory, a fifo that would block a read forever) was put there by someone else and will not
 * go away by waiting, so it ends the wait at once with one line.
 */
async function assertLockFile(lockPath: string): Promise<'gone' | undefined> {
  let kind: string | undefined
  try {
    const link = await lstat(lockPath)
    const target = link.isSymbolicLink() ? await stat(lockPath).catch(() => undefined) : link
    if (!target) kind = 'a symbolic link to nothing'
    else if (target.isDirectory()) kind = 'a directory'
    else if (target.isFIFO()) kind = 'a named pipe'
    else if (!target.isFile()) kind = 'not a regular file'
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw new StorageError(`could not check the lock file ${lockPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
  if (kind) throw new StorageError(`${lockPath} is not a lock file (${kind}): remove it, then try again`)
  return undefined
}

/** A lock file without a readable owner: its holder may be between creating and writing it. */
const UNWRITTEN_GRACE_MS = 2_000

async function readOwner(lockPath: string): Promise<LockOwner | 'gone'> {
  if ((await assertLockFile(lockPath)) === 'gone') return 'gone'
  try {
    const text = await readFile(lockPath, 'utf8')
    try {
      const owner = JSON.parse(text) as LockOwner
      if (typeof owner.pid === 'number' && typeof owner.nonce === 'string') return owner
    } catch {
      // handled below
    }
    const { mtimeMs } = await stat(lockPath)
    return { pid: -1, host: '', nonce: `unwritten:${mtimeMs}`, createdAt: mtimeMs }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw new StorageError(`could not read the lock file ${lockPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
}

function isAbandoned(owner: LockOwner, staleMs: number): boolean {
  if (owner.pid === -1) return Date.now() - owner.createdAt > UNWRITTEN_GRACE_MS
  if (Date.now() - owner.createdAt > staleMs) return true
  if (owner.host !== hostname()) return false
  try {
    process.kill(owner.pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * Moves the abandoned lock aside before deleting it, so two waiters that both saw it abandoned
 * cannot delete a fresh lock that one of them has just created: if what was moved aside is not
 * the lock we judged, it is put back.
 */
async function removeAbandoned(lockPath: string, judged: LockOwner): Promise<void> {
  const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`
  try {
    await rename(lockPath, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  const moved = await readOwner(aside)
  const sameLock = typeof moved === 'object' && (moved.nonce === judged.nonce || (judged.pid === -1 && moved.pid === -1))
  if (!sameLock) await link(aside, lockPath).catch(() => {})
  await unlink(aside).catch(() => {})
}

async function releaseIfOwned(lockPath: string, owner: LockOwner): Promise<void> {
  const current = await readOwner(lockPath).catch(() => 'gone' as const)
  if (typeof current === 'object' && current.nonce === owner.nonce) await unlink(lockPath).catch(() => {})
}
