/**
 * Where a session's secrets go: the OS keychain or the 0600 session file (`storage` auto | keychain
 * | file). Wraps the file store: the file always holds the non-secret part of the session and says
 * where the secrets are (`"storage": "keychain"`); the lock, settings and provider cache stay files.
 *
 * With the keychain (PRODUCT.md, Storage), what can mint tokens — the refresh token, the client
 * secret, the access tokens of other APIs with them — is in the keychain only. The session's current
 * access and ID tokens are cached in the 0600 file beside it, as gcloud and az keep theirs, so that
 * a cached `token` reads one file and loads no keychain binding (the fast path); with
 * `keychainAccessToken`, they are in the keychain only (the file then has no `accessToken`: that
 * absence is how a later write knows to keep them there).
 *
 * Keychain items, service = the tool's appName, account = <profile>/<item> (keychain.ts):
 * - `<profile>/secrets`: JSON of the refresh token, client secret, an ID token still to verify,
 *   the DPoP private key and the access tokens of other APIs (`targets`); with keychainAccessToken,
 *   the ID token too;
 * - `<profile>/access_token`: with keychainAccessToken only, the session's own access token, alone
 *   (one small item for the fast path).
 * Both go through setLarge (split under Windows' 2,560-byte cap).
 *
 * - `<profile>/pending_login`: a login started and not yet finished, whole (its record, without
 *   secrets, is the file pending-login.json, marked `"storage": "keychain"`).
 *
 * Write order, so that a crash or a keychain that fails midway never loses the rotated refresh
 * token nor leaves a file pointing at secrets that are not there: secrets item, access token item,
 * then the file (the commit; its marker says where the secrets are); an access token item no longer
 * needed goes last. Moving a session to the file writes the file first and deletes the items after.
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
  /**
   * Keep the access and ID tokens in the keychain only (true), or cache them in the 0600 file too
   * (false); undefined: as the stored session has them (a new one: cached).
   */
  keychainAccessToken?: boolean
  debug?: (line: string) => void
}

interface StoredSecrets {
  refreshToken?: string
  idToken?: string
  unverifiedIdToken?: string
  clientSecret?: string
  /** private_key_jwt's key. */
  privateKey?: string
  /** targets' access tokens, by target key. */
  targets?: Record<string, string>
  /** The DPoP private key (RFC 9449) the tokens are bound to. */
  dpopKey?: JsonWebKey
}

const { accessToken: ACCESS_TOKEN_ITEM, secrets: SECRETS_ITEM, pendingLogin: PENDING_ITEM } = SESSION_ITEMS

export class KeychainSessionStore implements SessionStore {
  readonly files: FileSessionStore
  readonly mode: StorageMode
  private readonly service: string
  private readonly keychain: Keychain
  private readonly env: NodeJS.ProcessEnv | undefined
  private readonly loginCommand: string
  private readonly keychainAccessToken: boolean | undefined
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
    this.keychainAccessToken = options.keychainAccessToken
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
    if (this.mode !== 'auto') await this.movePendingLogin(profile)
    const peek = await this.files.readSession(profile).catch(() => undefined)
    if (!peek || !this.isMisplaced(peek)) return
    await this.files.withLock(profile, async () => {
      const stored = await this.files.readSession(profile)
      if (!stored || !this.isMisplaced(stored)) return
      const session = await this.withSecrets(profile, stored)
      const to = this.mode === 'file' ? 'file' : 'keychain'
      this.debug(`storage: moving the session of profile "${profile}" to the ${to}${to === 'keychain' ? (this.keychainAccessToken ? ', its tokens in the keychain only' : ', its tokens cached in the file') : ''}`)
      if (to === 'keychain') {
        await this.writeToKeychain(profile, session, this.keychainAccessToken ?? tokensInKeychainOnly(stored), stored)
      } else {
        await this.files.writeSession(profile, withoutMarker(session))
        await this.deleteItems(profile)
      }
    })
  }

  /** The stored session is not where the options put it: another storage, or its tokens on the wrong side. */
  private isMisplaced(stored: Session): boolean {
    if (this.mode !== 'auto' && storageOf(stored) !== this.mode) return true
    return storageOf(stored) === 'keychain' && this.keychainAccessToken !== undefined && this.keychainAccessToken !== tokensInKeychainOnly(stored)
  }

  /** Whether the profile's session keeps its access and ID tokens in the keychain only (false for a file session or none). */
  async keepsTokensInKeychainOnly(profile: string): Promise<boolean> {
    const stored = await this.files.readSession(profile).catch(() => undefined)
    return stored !== undefined && storageOf(stored) === 'keychain' && tokensInKeychainOnly(stored)
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
    if (target === 'keychain') {
      const keychainOnly = this.keychainAccessToken ?? (current !== undefined && storageOf(current) === 'keychain' && tokensInKeychainOnly(current))
      return this.writeToKeychain(profile, session, keychainOnly, current)
    }
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

  /** `before`: the file as it was (an access token item it relied on is deleted once the file caches the token). */
  private async writeToKeychain(profile: string, session: Session, keychainOnly: boolean, before: Session | undefined): Promise<void> {
    const { file, secrets, accessToken } = splitSecrets(session, keychainOnly)
    await setLarge(this.keychain, this.service, keychainAccount(profile, SECRETS_ITEM), JSON.stringify(secrets))
    if (accessToken !== undefined) await setLarge(this.keychain, this.service, keychainAccount(profile, ACCESS_TOKEN_ITEM), accessToken)
    await this.files.writeSession(profile, file)
    if (!keychainOnly && before && storageOf(before) === 'keychain' && tokensInKeychainOnly(before)) {
      await deleteLarge(this.keychain, this.service, keychainAccount(profile, ACCESS_TOKEN_ITEM))
    }
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
    // Cached in the file, unless the session keeps them in the keychain only.
    const accessToken = tokensInKeychainOnly(stored) ? await read(ACCESS_TOKEN_ITEM) : stored.accessToken
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

/** A keychain session's file without its access token: the tokens are in the keychain only. */
function tokensInKeychainOnly(stored: Session): boolean {
  return stored.accessToken === undefined
}

function withoutMarker(session: Session): Session {
  const { storage: _storage, ...rest } = session
  return rest
}

/**
 * The session's secrets apart from what the file keeps; the file part is marked `storage: keychain`
 * and, unless `keychainOnly`, caches the access and ID tokens (the access token item is then not needed).
 */
function splitSecrets(session: Session, keychainOnly: boolean): { file: Session; secrets: StoredSecrets; accessToken: string | undefined } {
  const { accessToken, refreshToken, idToken, unverifiedIdToken, clientSecret, privateKey, targets, dpopKey, storage: _storage, ...rest } = session
  const secrets: StoredSecrets = { refreshToken, idToken: keychainOnly ? idToken : undefined, unverifiedIdToken, clientSecret, privateKey, dpopKey }
  let fileTargets: Record<string, TargetToken> | undefined
  if (targets) {
    secrets.targets = {}
    fileTargets = {}
    for (const [key, { accessToken: token, ...target }] of Object.entries(targets)) {
      secrets.targets[key] = token
      fileTargets[key] = target as TargetToken
    }
  }
  const cached = keychainOnly ? {} : { accessToken, ...(idToken !== undefined ? { idToken } : {}) }
  const file = { ...rest, ...cached, ...(fileTargets ? { targets: fileTargets } : {}), storage: 'keychain' } as Session
  return { file, secrets: JSON.parse(JSON.stringify(secrets)) as StoredSecrets, accessToken: keychainOnly ? accessToken : undefined }
}

function joinSecrets(stored: Session, accessToken: string, secrets: StoredSecrets): Session {
  const session: Session = { ...stored, accessToken }
  for (const key of ['refreshToken', 'idToken', 'unverifiedIdToken', 'clientSecret', 'privateKey'] as const) {
    if (typeof secrets[key] === 'string') session[key] = secrets[key]
    // The ID token is cached in the file unless the session keeps its tokens in the keychain only.
    else if (key !== 'idToken' || tokensInKeychainOnly(stored)) delete session[key]
  }
  if (typeof secrets.dpopKey === 'object' && secrets.dpopKey !== null) session.dpopKey = secrets.dpopKey
  else delete session.dpopKey
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
