/**
 * Where a session's secrets go: the OS keychain or the 0600 session file (`storage` auto | keychain
 * | file). Wraps the file store: the file always holds the non-secret part of the session and says
 * where the secrets are (`"storage": "keychain"`); the lock, settings and provider cache stay files.
 *
 * Keychain items, service = the tool's appName, account = <profile>/<item> (keychain.ts):
 * - `<profile>/access_token`: the session's own access token, alone, so that a `token` with a fresh
 *   token reads one small item (the fast path);
 * - `<profile>/secrets`: JSON of everything else secret: refresh token, ID token, client secret and
 *   the access tokens of other APIs (`targets`).
 * Both go through setLarge (split under Windows' 2,560-byte cap).
 *
 * - `<profile>/pending_login`: a login started and not yet finished, whole (its record, without
 *   secrets, is the file pending-login.json, marked `"storage": "keychain"`).
 *
 * Write order, so that a crash or a keychain that fails midway never loses the rotated refresh
 * token nor leaves a file pointing at secrets that are not there: secrets item, access token item,
 * then the file (the commit; its marker says where the secrets are). Moving a session to the file
 * writes the file first and deletes the items after.
 */
import { KeychainError, SessionFileError } from '../errors.ts'
import { deleteLarge, getLarge, keychainAccount, nativeKeychain, probeKeychain, SESSION_ITEMS, setLarge, type Keychain } from './keychain.ts'
import type { FileSessionStore, SessionStore } from './file-store.ts'
import type { ProfileSettings, ProviderMetadataCache, Session, TargetToken } from './session.ts'
import { pendingRecord, type PendingLogin } from './pending-login.ts'
import { profilePaths } from './paths.ts'

export type StorageMode = 'auto' | 'keychain' | 'file'
export const STORAGE_MODES: readonly StorageMode[] = ['auto', 'keychain', 'file']

/** Where a login put the secrets, and why not in the keychain when `auto` found none usable. */
export interface StorageDecision {
  storage: 'keychain' | 'file'
  /** `auto` only: why the keychain was not used (the probe's one-line reason). */
  keychainUnavailable?: string
}

export interface KeychainSessionStoreOptions {
  /** The keychain service: the embedding tool's appName. */
  service: string
  mode: StorageMode
  /** Default: the OS keychain (nativeKeychain). */
  keychain?: Keychain
  /** Environment for the probe's child process (the session bus address on Linux). */
  env?: NodeJS.ProcessEnv
  /** What messages tell the user to run (the tool's login command). */
  loginCommand: string
  debug?: (line: string) => void
}

interface StoredSecrets {
  refreshToken?: string
  idToken?: string
  clientSecret?: string
  /** targets' access tokens, by target key. */
  targets?: Record<string, string>
}

const { accessToken: ACCESS_TOKEN_ITEM, secrets: SECRETS_ITEM, pendingLogin: PENDING_ITEM } = SESSION_ITEMS

export class KeychainSessionStore implements SessionStore {
  readonly files: FileSessionStore
  readonly mode: StorageMode
  private readonly service: string
  private readonly keychain: Keychain
  private readonly env: NodeJS.ProcessEnv | undefined
  private readonly loginCommand: string
  private readonly debug: (line: string) => void
  /** `auto`: what the probe said, once per instance. */
  private probed: Promise<StorageDecision> | undefined

  constructor(files: FileSessionStore, options: KeychainSessionStoreOptions) {
    this.files = files
    this.mode = options.mode
    this.service = options.service
    this.env = options.env
    this.keychain = options.keychain ?? nativeKeychain({ env: options.env, probeService: options.service })
    this.loginCommand = options.loginCommand
    this.debug = options.debug ?? (() => {})
  }

  /**
   * Before a login (before the browser opens): where its session will go. `keychain` without a
   * usable keychain is a KeychainError; `auto` probes and falls back to the file, with the reason.
   */
  async prepareLogin(): Promise<StorageDecision> {
    if (this.mode === 'file') return { storage: 'file' }
    const decision = await this.probe()
    if (this.mode === 'keychain' && decision.storage !== 'keychain') {
      throw new KeychainError('probe', this.service, '-', decision.keychainUnavailable ?? 'unknown', { fix: 'check that the OS keychain is running and unlocked, or use file storage' })
    }
    return decision
  }

  /**
   * With an explicit mode (`keychain` or `file`), moves a session stored the other way to it,
   * without a new login, leaving no secret in the old place. Takes the profile's lock.
   */
  async moveSession(profile: string): Promise<void> {
    if (this.mode === 'auto') return
    await this.movePendingLogin(profile)
    const peek = await this.files.readSession(profile).catch(() => undefined)
    if (!peek || storageOf(peek) === this.mode) return
    await this.files.withLock(profile, async () => {
      const stored = await this.files.readSession(profile)
      if (!stored || storageOf(stored) === this.mode) return
      const session = await this.withSecrets(profile, stored)
      this.debug(`storage: moving the session of profile "${profile}" to the ${this.mode === 'keychain' ? 'keychain' : 'file'}`)
      if (this.mode === 'keychain') {
        await this.writeToKeychain(profile, session)
      } else {
        await this.files.writeSession(profile, withoutMarker(session))
        await this.deleteItems(profile)
      }
    })
  }

  /** A pending login goes where the session's secrets go, when the storage is changed. */
  private async movePendingLogin(profile: string): Promise<void> {
    const peek = await this.files.readPendingLogin(profile).catch(() => undefined)
    if (!peek?.attempt && peek?.storage !== 'keychain') return
    if ((peek.storage ?? 'file') === this.mode) return
    await this.files.withLock(profile, async () => {
      const pending = await this.readPendingLogin(profile)
      if (pending) await this.putPendingLogin(profile, pending, this.mode === 'keychain' ? 'keychain' : 'file')
    })
  }

  async readPendingLogin(profile: string): Promise<PendingLogin | undefined> {
    const stored = await this.files.readPendingLogin(profile)
    if (stored?.storage !== 'keychain') return stored
    const account = keychainAccount(profile, PENDING_ITEM)
    const text = await getLarge(this.keychain, this.service, account)
    const path = profilePaths(this.files.home, profile).pendingLogin
    if (text === undefined) throw new SessionFileError(path, `its secrets are missing in the keychain (service "${this.service}", account "${account}")`, { what: 'pending login', fix: 'start the login again' })
    try {
      const pending = JSON.parse(text) as PendingLogin
      if (typeof pending !== 'object' || pending === null || pending.loginId !== stored.loginId) throw new TypeError('not this pending login')
      return { ...pending, storage: 'keychain' }
    } catch {
      throw new SessionFileError(path, 'its secrets in the keychain are not valid', { what: 'pending login', fix: 'start the login again' })
    }
  }

  async writePendingLogin(profile: string, pending: PendingLogin): Promise<void> {
    const current = await this.files.readSession(profile).catch(() => undefined)
    await this.putPendingLogin(profile, pending, await this.targetFor(current))
  }

  /** The secrets item first, then the file (the commit); a record without secrets leaves no item. */
  private async putPendingLogin(profile: string, pending: PendingLogin, target: 'keychain' | 'file'): Promise<void> {
    const { storage: _storage, ...whole } = pending
    const account = keychainAccount(profile, PENDING_ITEM)
    if (target === 'keychain' && whole.attempt) {
      await setLarge(this.keychain, this.service, account, JSON.stringify(whole))
      await this.files.writePendingLogin(profile, { ...pendingRecord(whole), storage: 'keychain' })
      return
    }
    const before = await this.files.readPendingLogin(profile).catch(() => undefined)
    await this.files.writePendingLogin(profile, whole)
    if (before?.storage === 'keychain') await deleteLarge(this.keychain, this.service, account)
  }

  async readSession(profile: string): Promise<Session | undefined> {
    const stored = await this.files.readSession(profile)
    return stored && this.withSecrets(profile, stored)
  }

  sessionSignature(profile: string): string | undefined {
    // Every write ends with the file (the commit), so its signature changes with the secrets too.
    return this.files.sessionSignature(profile)
  }

  async writeSession(profile: string, session: Session): Promise<void> {
    const current = await this.files.readSession(profile).catch(() => undefined)
    const target = await this.targetFor(current)
    if (target === 'keychain') return this.writeToKeychain(profile, session)
    await this.files.writeSession(profile, withoutMarker(session))
    if (current && storageOf(current) === 'keychain') {
      // A new session in the file replaces one in the keychain (a login with auto and the keychain
      // gone): its items are of no use to anyone now; what cannot be deleted is said in debug.
      await this.deleteItems(profile).catch((error: unknown) => this.debug(`storage: the old keychain items stay: ${(error as Error).message}`))
    }
  }

  async deleteSession(profile: string): Promise<boolean> {
    let stored: Session | undefined
    let unreadable = false
    try {
      stored = await this.files.readSession(profile)
    } catch (error) {
      if (!(error instanceof SessionFileError)) throw error
      unreadable = true
    }
    let deletedItems = false
    // A pending login in the keychain: its item first (the file, deleted with the session, says where it is).
    const pending = await this.files.readPendingLogin(profile).catch(() => undefined)
    if (pending?.storage === 'keychain') await deleteLarge(this.keychain, this.service, keychainAccount(profile, PENDING_ITEM))
    if (stored && storageOf(stored) === 'keychain') {
      // The items first: a keychain that fails keeps the file, which says where they are.
      deletedItems = await this.deleteItems(profile)
    } else if (unreadable && this.mode !== 'file') {
      // A broken file no longer says where the secrets are: try the keychain too.
      deletedItems = await this.deleteItems(profile).catch(() => false)
    }
    return (await this.files.deleteSession(profile)) || deletedItems
  }

  readSettings(profile: string): Promise<ProfileSettings> {
    return this.files.readSettings(profile)
  }

  writeSettings(profile: string, settings: ProfileSettings): Promise<void> {
    return this.files.writeSettings(profile, settings)
  }

  listProfiles(): Promise<string[]> {
    return this.files.listProfiles()
  }

  readProviderCache(profile: string): Promise<ProviderMetadataCache | undefined> {
    return this.files.readProviderCache(profile)
  }

  writeProviderCache(profile: string, cache: ProviderMetadataCache): Promise<void> {
    return this.files.writeProviderCache(profile, cache)
  }

  withLock<T>(profile: string, fn: () => Promise<T>, whileWaiting?: () => Promise<T | undefined>): Promise<T> {
    return this.files.withLock(profile, fn, whileWaiting)
  }

  describe(profile: string): string {
    return this.files.describe(profile)
  }

  /**
   * Where a write goes. `auto` keeps a session where it is (a session in the keychain never falls
   * back to the file: a keychain gone after login is an error, not a reason to write secrets to
   * disk); a new one goes where the probe says.
   */
  private async targetFor(current: Session | undefined): Promise<'keychain' | 'file'> {
    if (this.mode !== 'auto') return this.mode
    if (this.probed) return (await this.probed).storage
    if (current) return storageOf(current)
    return (await this.probe()).storage
  }

  private probe(): Promise<StorageDecision> {
    this.probed ??= probeKeychain(this.keychain, { timeoutMs: 2000, service: this.service }).then((result): StorageDecision => {
      this.debug(`storage: keychain probe ${result.ok ? 'succeeded' : `failed (${result.reason})`}`)
      return result.ok ? { storage: 'keychain' } : { storage: 'file', keychainUnavailable: result.reason }
    })
    return this.probed
  }

  private async writeToKeychain(profile: string, session: Session): Promise<void> {
    const { file, secrets, accessToken } = splitSecrets(session)
    await setLarge(this.keychain, this.service, keychainAccount(profile, SECRETS_ITEM), JSON.stringify(secrets))
    await setLarge(this.keychain, this.service, keychainAccount(profile, ACCESS_TOKEN_ITEM), accessToken)
    await this.files.writeSession(profile, file)
  }

  private async withSecrets(profile: string, stored: Session): Promise<Session> {
    if (storageOf(stored) !== 'keychain') return stored
    const fix = `check that the OS keychain is running and unlocked, or run ${this.loginCommand} again with file storage`
    const read = async (item: string): Promise<string | undefined> => {
      try {
        return await getLarge(this.keychain, this.service, keychainAccount(profile, item))
      } catch (error) {
        if (error instanceof KeychainError) throw new KeychainError(error.operation, error.service, error.account, error.reason, { cause: error, fix })
        throw error
      }
    }
    const accessToken = await read(ACCESS_TOKEN_ITEM)
    const secretsText = await read(SECRETS_ITEM)
    const missing = (what: string) =>
      new SessionFileError(this.files.describe(profile), `${what} in the keychain (service "${this.service}", account "${keychainAccount(profile, '…')}")`, { fix: `run ${this.loginCommand}` })
    if (accessToken === undefined || secretsText === undefined) throw missing('its secrets are missing')
    let secrets: StoredSecrets
    try {
      secrets = JSON.parse(secretsText) as StoredSecrets
      if (typeof secrets !== 'object' || secrets === null) throw new TypeError('not an object')
    } catch {
      throw missing('its secrets are not valid')
    }
    return joinSecrets(stored, accessToken, secrets)
  }

  /** Deletes both items (every part of a split one); true when there was something. */
  private async deleteItems(profile: string): Promise<boolean> {
    const access = await deleteLarge(this.keychain, this.service, keychainAccount(profile, ACCESS_TOKEN_ITEM))
    const secrets = await deleteLarge(this.keychain, this.service, keychainAccount(profile, SECRETS_ITEM))
    return access || secrets
  }
}

function storageOf(session: Session): 'keychain' | 'file' {
  return session.storage === 'keychain' ? 'keychain' : 'file'
}

function withoutMarker(session: Session): Session {
  const { storage: _storage, ...rest } = session
  return rest
}

/** The session's secrets apart from what the file keeps; the file part is marked `storage: keychain`. */
function splitSecrets(session: Session): { file: Session; secrets: StoredSecrets; accessToken: string } {
  const { accessToken, refreshToken, idToken, clientSecret, targets, storage: _storage, ...rest } = session
  const secrets: StoredSecrets = { refreshToken, idToken, clientSecret }
  let fileTargets: Record<string, TargetToken> | undefined
  if (targets) {
    secrets.targets = {}
    fileTargets = {}
    for (const [key, { accessToken: token, ...target }] of Object.entries(targets)) {
      secrets.targets[key] = token
      fileTargets[key] = target as TargetToken
    }
  }
  const file = { ...rest, ...(fileTargets ? { targets: fileTargets } : {}), storage: 'keychain' } as Session
  return { file, secrets: JSON.parse(JSON.stringify(secrets)) as StoredSecrets, accessToken }
}

function joinSecrets(stored: Session, accessToken: string, secrets: StoredSecrets): Session {
  const session: Session = { ...stored, accessToken }
  for (const key of ['refreshToken', 'idToken', 'clientSecret'] as const) {
    if (typeof secrets[key] === 'string') session[key] = secrets[key]
    else delete session[key]
  }
  if (stored.targets) {
    const targets: Record<string, TargetToken> = {}
    for (const [key, target] of Object.entries(stored.targets)) {
      const token = secrets.targets?.[key]
      // A target token the keychain lacks is simply not cached: the next request for it refreshes.
      if (typeof token === 'string') targets[key] = { ...target, accessToken: token }
    }
    session.targets = targets
  }
  return session
}
