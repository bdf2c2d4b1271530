/**
 * Hostile surroundings (PRODUCT.md, Storage): sessions are kept only in directories of the user's
 * own. A home or profile directory (or a symlink's target there) owned by another user is refused;
 * one of the user's own that group or others can write is set back to 0700, and a session file that
 * others can read back to 0600, each with a warning. POSIX only: Windows has no such modes.
 */
import { chmodSync, lstatSync, realpathSync, statSync, type Stats } from 'node:fs'
import { SessionFileError, StorageError } from '../errors.ts'

export type Warn = (message: string) => void

/** Group or others may write: such a directory of ours is set back to 0700. */
export const LOOSE_DIRECTORY_BITS = 0o022
/** Group or others may read or write: such a session file of ours is set back to 0600. */
export const LOOSE_SESSION_FILE_BITS = 0o077

/** Nothing to refuse or fix: ours, and none of the loose bits set (the token fast path checks this alone). */
export function isOwnAndTight(stats: Pick<Stats, 'uid' | 'mode'>, uid: number, looseBits: number): boolean {
  return stats.uid === uid && (stats.mode & looseBits) === 0
}

function myUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

/**
 * The directory's (or its symlink target's) stats, undefined when it does not exist. Synchronous
 * (as every check here): a few stat calls of microseconds each, on every session read.
 */
function statFollowing(path: string): { stats: Stats; shown: string } | undefined {
  let link: Stats
  try {
    link = lstatSync(path)
  } catch {
    return undefined // not there, or not reachable (ENOTDIR, EACCES): the read or write that follows says so
  }
  if (!link.isSymbolicLink()) return { stats: link, shown: path }
  const target = attempt(() => realpathSync(path))
  const stats = target && attempt(() => statSync(target))
  if (!stats) return undefined
  return { stats, shown: `${path} (a symbolic link to ${target})` }
}

function refuseForeign(shown: string, stats: Stats, uid: number, what: string): void {
  if (stats.uid !== uid) {
    throw new StorageError(`${shown} belongs to another user (uid ${stats.uid}), so it is not used for ${what}: use a directory of your own`)
  }
}

/** Refuses a directory owned by another user; one of ours that group or others can write is set back to 0700. */
export async function secureDirectory(path: string, warn: Warn | undefined): Promise<void> {
  const uid = myUid()
  if (uid === undefined) return
  const found = statFollowing(path)
  if (!found) return
  const { stats, shown } = found
  refuseForeign(shown, stats, uid, 'sessions')
  if (isOwnAndTight(stats, uid, LOOSE_DIRECTORY_BITS)) return
  try {
    chmodSync(path, 0o700)
  } catch (error) {
    throw new StorageError(`${shown} can be written by other users and could not be set back to 0700: ${(error as Error).message}`, { cause: error })
  }
  warn?.(`${shown} could be written by ${whoMayWrite(stats.mode)}; set it back to 0700`)
}

/**
 * A session file others can read is set back to 0600; one owned by another user is refused. A
 * symbolic link there is never changed through (PRODUCT.md: nothing written, truncated or chmod-ed
 * through it): one to a file that is not the user's own and tight is a SessionFileError, which a
 * login answers by replacing the link.
 */
export async function secureSessionFile(path: string, warn: Warn | undefined): Promise<void> {
  const uid = myUid()
  if (uid === undefined) return
  const found = statFollowing(path)
  if (!found || !found.stats.isFile()) return
  const { stats, shown } = found
  if (shown !== path && !isOwnAndTight(stats, uid, LOOSE_SESSION_FILE_BITS)) {
    const why = stats.uid !== uid ? `its target belongs to another user (uid ${stats.uid})` : 'its target can be read by other users'
    throw new SessionFileError(path, `a symbolic link, and ${why}; nothing is changed through a link`, { fix: 'remove the link, or log in again to replace it' })
  }
  refuseForeign(shown, stats, uid, 'a session')
  if (isOwnAndTight(stats, uid, LOOSE_SESSION_FILE_BITS)) return
  try {
    chmodSync(path, 0o600)
  } catch (error) {
    throw new StorageError(`${shown} can be read by other users and could not be set back to 0600: ${(error as Error).message}`, { cause: error })
  }
  warn?.(`${shown} could be read by other users (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); set it back to 0600`)
}

function whoMayWrite(mode: number): string {
  return mode & 0o020 && mode & 0o002 ? 'its group and other users' : mode & 0o020 ? 'its group' : 'other users'
}
