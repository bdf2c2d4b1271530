import { access, readdir, unlink } from 'node:fs/promises'
import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, statSync, type Stats } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { SessionFileError, StorageError } from '../errors.ts'
import type { LockOptions } from './lock.ts'
import { homeConfigPath, isProfileName, profilePaths, profilesDir } from './paths.ts'
import type { HomeConfig } from './home-config.ts'
import { secureDirectory, secureSessionFile } from './dir-safety.ts'
import { sessionShapeProblem, settingsShapeProblem, type ProfileSettings, type ProviderMetadataCache, type Session } from './session.ts'
import { pendingShapeProblem, type PendingLogin } from './pending-login.ts'

/** Where sessions and profile settings are kept. Replaceable through the library's `store` option. */
export interface SessionStore {
  /** The stored session, undefined when there is none; SessionFileError when it cannot be read. */
  readSession(profile: string): Promise<Session | undefined>
  /** Changes whenever the stored session does (optional: lets a process keep the session in memory). */
  sessionSignature?(profile: string): string | undefined
  writeSession(profile: string, session: Session): Promise<void>
  /** Deletes the session (and any secret with it); true when there was one. */
  deleteSession(profile: string): Promise<boolean>
  readSettings(profile: string): Promise<ProfileSettings>
  writeSettings(profile: string, settings: ProfileSettings): Promise<void>
  /** The profiles that have a stored session (readable or not). */
  listProfiles(): Promise<string[]>
  /** The provider metadata cached for the profile (optional: a store without it means discovery every time). */
  readProviderCache?(profile: string): Promise<ProviderMetadataCache | undefined>
  writeProviderCache?(profile: string, cache: ProviderMetadataCache): Promise<void>
  /**
   * A login started and not yet finished (optional: a store without these has no two-step
   * logins). One per profile; deleted with the session.
   */
  readPendingLogin?(profile: string): Promise<PendingLogin | undefined>
  writePendingLogin?(profile: string, pending: PendingLogin): Promise<void>
  /** Runs fn while no other process holds this profile's lock. */
  withLock<T>(profile: string, fn: () => Promise<T>, whileWaiting?: () => Promise<T | undefined>): Promise<T>
  /** A human-readable location, for messages. */
  describe(profile: string): string
}

export interface FileSessionStoreOptions {
  /** What messages about a broken file tell the user to run (the tool's login command). */
  loginCommand?: string
  lock?: Omit<LockOptions, 'whileWaiting'>
  /** Told when an unsafe directory or session file mode was fixed (see dir-safety.ts). */
  onWarning?: (line: string) => void
}

/** Sessions as JSON files: <home>/profiles/<profile>/session.json, directories 0700, files 0600, atomic writes. */
export class FileSessionStore implements SessionStore {
  readonly home: string
  private readonly sessionPaths = new Map<string, string>()
  private readonly lockOptions: Omit<LockOptions, 'whileWaiting'>
  private readonly fix: string
  private readonly onWarning: ((line: string) => void) | undefined

  constructor(home: string, options: FileSessionStoreOptions = {}) {
    this.home = home
    this.lockOptions = options.lock ?? {}
    this.onWarning = options.onWarning
    this.fix = options.loginCommand ? `run ${options.loginCommand} to replace it` : 'log in again to replace it'
  }

  /** The session file's path, worked out once per profile: sessionSignature() runs on every getAccessToken(). */
  private sessionPath(profile: string): string {
    let path = this.sessionPaths.get(profile)
    if (path === undefined) {
      path = profilePaths(this.home, profile).session
      this.sessionPaths.set(profile, path)
    }
    return path
  }

  describe(profile: string): string {
    return profilePaths(this.home, profile).session
  }

  async readSession(profile: string): Promise<Session | undefined> {
    const paths = profilePaths(this.home, profile)
    const path = paths.session
    await this.checkSurroundings(paths.dir)
    await secureSessionFile(path, this.onWarning)
    const value = await readJson(path, { fix: this.fix })
    if (value === undefined) return undefined
    const problem = sessionShapeProblem(value)
    if (problem) throw new SessionFileError(path, problem, { fix: this.fix })
    return value as Session
  }

  /** Every write replaces the file (a new inode), so inode, size and mtime together tell a change. */
  sessionSignature(profile: string): string | undefined {
    try {
      const stats = statSync(this.sessionPath(profile), { throwIfNoEntry: false })
      return stats && `${stats.ino}:${stats.size}:${stats.mtimeMs}`
    } catch {
      return undefined // ENOTDIR, EACCES…: readSession() reports it
    }
  }

  async writeSession(profile: string, session: Session): Promise<void> {
    const paths = profilePaths(this.home, profile)
    await this.ensureProfileDir(paths.dir)
    await writeOrFail(paths.session, `${JSON.stringify(session, null, 2)}\n`)
  }

  async deleteSession(profile: string): Promise<boolean> {
    const { dir, session: path, pendingLogin } = profilePaths(this.home, profile)
    // A pending login is a secret of the profile too: it goes with the session.
    await unlink(pendingLogin).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw new StorageError(`could not delete ${pendingLogin}: ${error.message}`, { cause: error })
    })
    // A write interrupted by a crash can leave its temporary file, tokens included: delete those too.
    const leftovers = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith(`.${basename(path)}.`) && name.endsWith('.tmp'))
    await Promise.all(leftovers.map((name) => unlink(join(dir, name)).catch(() => {})))
    try {
      await unlink(path)
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw new StorageError(`could not delete ${path}: ${(error as Error).message}`, { cause: error })
    }
  }

  async readPendingLogin(profile: string): Promise<PendingLogin | undefined> {
    const paths = profilePaths(this.home, profile)
    await this.checkSurroundings(paths.dir)
    await secureSessionFile(paths.pendingLogin, this.onWarning)
    const fileProblem = { what: 'pending login', fix: 'start the login again' }
    const value = await readJson(paths.pendingLogin, fileProblem)
    if (value === undefined) return undefined
    const problem = pendingShapeProblem(value)
    if (problem) throw new SessionFileError(paths.pendingLogin, problem, fileProblem)
    return value as PendingLogin
  }

  async writePendingLogin(profile: string, pending: PendingLogin): Promise<void> {
    const paths = profilePaths(this.home, profile)
    await this.ensureProfileDir(paths.dir)
    await writeOrFail(paths.pendingLogin, `${JSON.stringify(pending, null, 2)}\n`)
  }

  async readSettings(profile: string): Promise<ProfileSettings> {
    const path = profilePaths(this.home, profile).settings
    const fileProblem = { what: 'settings file', fix: `delete it, or ${this.fix}` }
    const value = await readJson(path, fileProblem)
    if (value === undefined) return {}
    const problem = settingsShapeProblem(value)
    if (problem) throw new SessionFileError(path, problem, fileProblem)
    return value as ProfileSettings
  }

  async writeSettings(profile: string, settings: ProfileSettings): Promise<void> {
    const paths = profilePaths(this.home, profile)
    await this.ensureProfileDir(paths.dir)
    await writeOrFail(paths.settings, `${JSON.stringify(settings, null, 2)}\n`)
  }

  async readProviderCache(profile: string): Promise<ProviderMetadataCache | undefined> {
    const value = (await readJson(profilePaths(this.home, profile).providerCache).catch(() => undefined)) as ProviderMetadataCache | undefined
    const usable = value && typeof value.issuer === 'string' && Number.isFinite(value.fetchedAt) && typeof value.metadata === 'object' && value.metadata !== null
    if (!usable) return undefined
    const jwks = value.jwks as { keys?: unknown; fetchedAt?: unknown } | undefined
    if (jwks !== undefined && !(Array.isArray(jwks?.keys) && Number.isFinite(jwks?.fetchedAt))) return { ...value, jwks: undefined }
    return value
  }

  async writeProviderCache(profile: string, cache: ProviderMetadataCache): Promise<void> {
    const paths = profilePaths(this.home, profile)
    await this.ensureProfileDir(paths.dir)
    await writeOrFail(paths.providerCache, JSON.stringify(cache))
  }

  /** The home's config.json (session/home-config.ts), with the default profile. */
  async writeDefaultProfile(profile: string): Promise<void> {
    const path = homeConfigPath(this.home)
    await this.ensureProfileDir(profilePaths(this.home, profile).dir)
    await writeOrFail(path, `${JSON.stringify({ defaultProfile: profile } satisfies HomeConfig, null, 2)}\n`)
  }

  async listProfiles(): Promise<string[]> {
    try {
      const entries = await readdir(profilesDir(this.home), { withFileTypes: true })
      const names = entries.filter((e) => e.isDirectory() && isProfileName(e.name)).map((e) => e.name).sort()
      const hasSession = await Promise.all(names.map((name) => access(profilePaths(this.home, name).session).then(() => true, () => false)))
      return names.filter((_, i) => hasSession[i])
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new StorageError(`could not list ${profilesDir(this.home)}: ${(error as Error).message}`, { cause: error })
    }
  }

  async withLock<T>(profile: string, fn: () => Promise<T>, whileWaiting?: () => Promise<T | undefined>): Promise<T> {
    const paths = profilePaths(this.home, profile)
    await this.ensureProfileDir(paths.dir)
    const { withFileLock } = await import('./lock.ts')
    return withFileLock(paths.lock, fn, { profile, ...this.lockOptions, whileWaiting })
  }

  /**
   * Creates home, home/profiles and the profile's directory, each 0700. Synchronous, as readJson:
   * before every write, four thread-pool round trips cost more than the calls.
   */
  private async ensureProfileDir(dir: string): Promise<void> {
    try {
      mkdirSync(dirname(this.home), { recursive: true, mode: 0o700 })
      for (const d of [this.home, profilesDir(this.home), dir]) {
        try {
          mkdirSync(d, { mode: 0o700 })
          chmodSync(d, 0o700)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        }
      }
    } catch (error) {
      throw new StorageError(`could not create ${dir}: ${(error as Error).message}`, { cause: error })
    }
    await this.checkSurroundings(dir)
  }

  /** Home, profiles and the profile's directory: ours, and writable by no one else (dir-safety.ts). */
  private async checkSurroundings(dir: string): Promise<void> {
    for (const d of [this.home, profilesDir(this.home), dir]) await secureDirectory(d, this.onWarning)
  }
}

/**
 * A stored JSON file, undefined when there is none. Only a regular file (or a symlink to one) is
 * read: it is opened without blocking and checked before the read, so a fifo or a device planted
 * at its path is reported at once, never waited on (PRODUCT.md, Storage). Synchronous: a few
 * kilobytes from a local file, on every session read (a thread-pool round trip per call costs more).
 */
async function readJson(path: string, describe: { what?: string; fix?: string } = {}): Promise<unknown> {
  let text: string
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new SessionFileError(path, `cannot be read: ${code ?? (error as Error).message}`, { ...describe, cause: error })
  }
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) {
      const link = lstatSync(path, { throwIfNoEntry: false })
      const kind = fileKind(stats)
      throw new SessionFileError(path, `not a regular file: ${link?.isSymbolicLink() ? `a symbolic link to ${kind}` : kind}`, { ...describe, fix: 'remove it, then try again', notRegular: true })
    }
    text = readFileSync(fd, 'utf8')
  } catch (error) {
    if (error instanceof SessionFileError) throw error
    throw new SessionFileError(path, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { ...describe, cause: error })
  } finally {
    closeSync(fd)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new SessionFileError(path, 'not valid JSON', { ...describe, cause: error })
  }
}

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a named pipe'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device'
  return 'not a regular file'
}

async function writeOrFail(path: string, text: string): Promise<void> {
  // Loaded on the first write only: reading a session (the path of `cli-login token`) needs none of it.
  const { writeFileAtomic } = await import('./atomic-write.ts')
  try {
    await writeFileAtomic(path, text)
  } catch (error) {
    throw new StorageError(`could not write ${path}: ${(error as Error).message}`, { cause: error })
  }
}
