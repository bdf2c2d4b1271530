import { link, lstat, open, readFile, rename, stat, unlink } from 'node:fs/promises'
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
  const staleMs = options.staleMs ?? 60_000
  const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), createdAt: Date.now() }
  const started = Date.now()
  // Short polls: the wait is usually one refresh, and a waiter should see its result at once.
  const pollMs = 10
  for (;;) {
    if (await tryCreate(lockPath, owner)) break
    const holder = await readOwner(lockPath)
    if (holder === 'gone') continue
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
