/**
 * KeychainSessionStore through the keychain seam, with in-memory keychains that behave like the
 * other platforms' (Windows Credential Manager's 2,560-byte cap; a macOS keychain that is locked
 * and refuses without user interaction): where each secret goes, the write order that keeps a
 * rotated refresh token, moving a session, deleting every part, and the failures as one-line errors.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CliLogin } from '../../src/cli-login.ts'
import { ErrorCode, KeychainError, SessionFileError } from '../../src/errors.ts'
import { FileSessionStore } from '../../src/session/file-store.ts'
import { utf16Bytes, WINDOWS_SECRET_MAX_BYTES, type Keychain } from '../../src/session/keychain.ts'
import { KeychainSessionStore, type StorageMode } from '../../src/session/keychain-store.ts'
import type { Session } from '../../src/session/session.ts'

/** In memory, Windows' cap on every item; `failWith` makes every call fail (a locked keychain). */
class FakeKeychain implements Keychain {
  readonly items = new Map<string, string>()
  failWith: string | undefined
  /** Fails set() for accounts matching this (one item of a write failing midway). */
  failSetOf: RegExp | undefined
  async get(service: string, account: string): Promise<string | undefined> {
    this.check()
    return this.items.get(`${service}\n${account}`)
  }
  async set(service: string, account: string, secret: string): Promise<void> {
    this.check()
    if (this.failSetOf?.test(account)) throw new KeychainError('set', service, account, 'Platform secure storage failure: write refused')
    if (utf16Bytes(secret) > WINDOWS_SECRET_MAX_BYTES) throw new Error(`Attribute 'password' is longer than platform limit of ${WINDOWS_SECRET_MAX_BYTES} chars`)
    this.items.set(`${service}\n${account}`, secret)
  }
  async delete(service: string, account: string): Promise<boolean> {
    this.check()
    return this.items.delete(`${service}\n${account}`)
  }
  accounts(): string[] {
    return [...this.items.keys()].map((key) => key.split('\n')[1]).sort()
  }
  private check(): void {
    if (this.failWith) throw new KeychainError('get', 'acme', 'x', this.failWith)
  }
}

const jwt = (tag: string, length: number) => `eyJhbGciOiJSUzI1NiJ9.${tag}${'x'.repeat(length)}.sig`

function session(overrides: Partial<Session> = {}): Session {
  return {
    version: 1,
    issuer: 'https://issuer.example/',
    clientId: 'client',
    clientSecret: 'cs-secret-value',
    requestedScope: 'openid offline_access',
    tokenType: 'Bearer',
    accessToken: jwt('access', 3000), // over Windows' cap: split
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    refreshToken: 'rt-secret-1',
    idToken: jwt('id', 1500),
    user: { sub: 'alice' },
    targets: { 'audience=https%3A%2F%2Fbilling': { audience: 'https://billing', tokenType: 'Bearer', accessToken: jwt('billing', 900), refreshedAt: 1 } },
    createdAt: 1,
    ...overrides,
  }
}

const secretsOf = (s: Session) => [s.accessToken, s.refreshToken!, s.idToken!, s.clientSecret!, ...Object.values(s.targets ?? {}).map((t) => t.accessToken)]
/** What can mint tokens (and the other APIs' tokens got with it): never in a file with the keychain. */
const mintingSecretsOf = (s: Session) => [s.refreshToken!, s.clientSecret!, ...Object.values(s.targets ?? {}).map((t) => t.accessToken)]

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'cli-login-keychain-store-')) })
after(() => rm(dir, { recursive: true, force: true }))

let homes = 0
function stores(mode: StorageMode, keychain: Keychain = new FakeKeychain(), keychainAccessToken?: boolean) {
  const home = join(dir, `home-${++homes}`)
  const files = new FileSessionStore(home, { loginCommand: 'acme login' })
  const store = new KeychainSessionStore(files, { service: 'acme', mode, keychain, loginCommand: 'acme login', keychainAccessToken })
  const storeAs = (other: StorageMode, keychainOnly = keychainAccessToken) => new KeychainSessionStore(files, { service: 'acme', mode: other, keychain, loginCommand: 'acme login', keychainAccessToken: keychainOnly })
  return { home, files, store, storeAs, sessionFile: join(home, 'profiles', 'default', 'session.json') }
}

async function filesHolding(home: string, secrets: string[]): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(home, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const text = await readFile(join(entry.parentPath, entry.name), 'utf8')
    if (secrets.some((secret) => text.includes(secret))) found.push(entry.name)
  }
  return found
}

describe('KeychainSessionStore (Windows-capped fake keychain)', () => {
  it('keychain: what can mint tokens is in the keychain only; the current access and ID tokens are cached in the 0600 file (no access token item); read gives the session back', async () => {
    const keychain = new FakeKeychain()
    const { home, store, files, sessionFile } = stores('keychain', keychain)
    const s = session()
    await store.writeSession('default', s)
    assert.deepEqual(await store.readSession('default'), { ...s, storage: 'keychain' })
    assert.deepEqual(await filesHolding(home, mintingSecretsOf(s)), [])
    const file = await files.readSession('default')
    assert.equal(file?.storage, 'keychain')
    assert.equal(file?.accessToken, s.accessToken)
    assert.equal(file?.idToken, s.idToken)
    assert.equal((await stat(sessionFile)).mode & 0o777, 0o600)
    assert.deepEqual(keychain.accounts(), ['default/secrets'], 'one item: no access token item to read or write')
    assert.equal(await stores('keychain', keychain).store.keepsTokensInKeychainOnly('default'), false)
  })

  it('keychainAccessToken: every secret in the keychain under appName and profile, split where long; the file holds none; read gives the session back', async () => {
    const keychain = new FakeKeychain()
    const { home, store, files } = stores('keychain', keychain, true)
    const s = session()
    await store.writeSession('default', s)
    assert.deepEqual(await store.readSession('default'), { ...s, storage: 'keychain' })
    assert.deepEqual(await filesHolding(home, secretsOf(s)), [])
    const file = await files.readSession('default')
    assert.equal(file?.storage, 'keychain')
    assert.deepEqual(Object.keys(file!.targets!), Object.keys(s.targets!), 'the target is known to the file, its token is not')
    assert.ok(keychain.accounts().every((account) => account.startsWith('default/')), keychain.accounts().join())
    assert.ok(keychain.accounts().includes('default/access_token#a.0'), 'the 3,000-character token is split')
    assert.ok([...keychain.items.keys()].every((key) => key.startsWith('acme\n')), 'service = appName')
  })

  it('deleteSession removes every item, every part of a split one, and the file', async () => {
    const keychain = new FakeKeychain()
    const { store, sessionFile } = stores('keychain', keychain)
    await store.writeSession('default', session())
    assert.equal(await store.deleteSession('default'), true)
    assert.deepEqual(keychain.accounts(), [])
    await assert.rejects(readFile(sessionFile), { code: 'ENOENT' })
    assert.equal(await store.deleteSession('default'), false)
  })

  it('a refresh that fails midway keeps the rotated refresh token: the secrets item is written before the access token and the file', async () => {
    const keychain = new FakeKeychain()
    const { store, sessionFile } = stores('keychain', keychain, true)
    await store.writeSession('default', session())
    const fileBefore = await readFile(sessionFile, 'utf8')
    keychain.failSetOf = /^default\/access_token/
    await assert.rejects(store.writeSession('default', session({ refreshToken: 'rt-secret-2', accessToken: jwt('access2', 3000) })), (error: unknown) => {
      assert.ok(error instanceof KeychainError)
      assert.equal(error.code, ErrorCode.KEYCHAIN_UNAVAILABLE)
      assert.doesNotMatch(error.message, /rt-secret|eyJ/)
      return true
    })
    keychain.failSetOf = undefined
    assert.equal(await readFile(sessionFile, 'utf8'), fileBefore, 'the file (the commit) was not written')
    const read = await store.readSession('default')
    assert.equal(read?.refreshToken, 'rt-secret-2', 'the rotated refresh token is there for the next refresh')
    assert.equal(read?.accessToken, session().accessToken, 'the old access token, consistent with the file')
  })

  it('a locked keychain (macOS without user interaction): reading is a one-line KeychainError naming the fix, never a fallback to the file', async () => {
    const keychain = new FakeKeychain()
    const { store, storeAs, sessionFile } = stores('auto', keychain)
    await storeAs('keychain').writeSession('default', session())
    const fileBefore = await readFile(sessionFile, 'utf8')
    keychain.failWith = 'User interaction is not allowed.'
    await assert.rejects(store.readSession('default'), (error: unknown) => {
      assert.ok(error instanceof KeychainError)
      assert.match(error.message, /^could not read the keychain item "acme x" \(User interaction is not allowed\.\): check that the OS keychain is running and unlocked, or run acme login again with file storage$/)
      return true
    })
    // auto keeps a keychain session in the keychain: a write fails rather than put secrets on disk.
    await assert.rejects(store.writeSession('default', session({ refreshToken: 'rt-secret-3' })), KeychainError)
    assert.equal(await readFile(sessionFile, 'utf8'), fileBefore)
    await assert.rejects(store.deleteSession('default'), KeychainError, 'logout cannot leave the items behind silently')
    assert.equal(await readFile(sessionFile, 'utf8'), fileBefore, 'the file, which says where the items are, stays')
  })

  it('items missing from the keychain: the session is reported as unusable (SessionFileError), and logout still deletes it', async () => {
    const keychain = new FakeKeychain()
    const { store, sessionFile } = stores('keychain', keychain)
    await store.writeSession('default', session())
    keychain.items.clear()
    await assert.rejects(store.readSession('default'), (error: unknown) => error instanceof SessionFileError && /its secrets are missing in the keychain.*run acme login/.test(error.message))
    assert.equal(await store.deleteSession('default'), true)
    await assert.rejects(readFile(sessionFile), { code: 'ENOENT' })
  })

  it('moving both ways: file → keychain → file, same session, no secret left in the old place', async () => {
    const keychain = new FakeKeychain()
    const { home, storeAs, files } = stores('file', keychain)
    const s = session()
    await storeAs('file').writeSession('default', s)
    assert.deepEqual(keychain.accounts(), [])
    await storeAs('keychain').moveSession('default')
    assert.equal((await files.readSession('default'))?.storage, 'keychain')
    assert.deepEqual(await filesHolding(home, mintingSecretsOf(s)), [])
    assert.deepEqual(await storeAs('auto').readSession('default'), { ...s, storage: 'keychain' })
    await storeAs('file').moveSession('default')
    assert.deepEqual(keychain.accounts(), [])
    assert.deepEqual(await files.readSession('default'), s)
  })

  it('keychainAccessToken moves the tokens of a stored session both ways; a session keeps its choice when the option is not given', async () => {
    const keychain = new FakeKeychain()
    const { home, storeAs, files } = stores('keychain', keychain)
    const s = session()
    await storeAs('keychain').writeSession('default', s)
    await storeAs('auto', true).moveSession('default')
    assert.deepEqual(await filesHolding(home, secretsOf(s)), [], 'now in the keychain only')
    assert.ok(keychain.accounts().includes('default/access_token'))
    // A later write without the option (a refresh by another instance) keeps them there.
    await storeAs('auto', undefined).writeSession('default', session({ refreshToken: 'rt-secret-6' }))
    assert.equal((await files.readSession('default'))?.accessToken, undefined)
    assert.deepEqual(await storeAs('auto', undefined).readSession('default'), { ...s, refreshToken: 'rt-secret-6', storage: 'keychain' })
    await storeAs('auto', false).moveSession('default')
    assert.equal((await files.readSession('default'))?.accessToken, s.accessToken, 'cached in the file again')
    assert.deepEqual(keychain.accounts(), ['default/secrets'], 'the access token item is gone')
    assert.deepEqual(await storeAs('auto', undefined).readSession('default'), { ...s, refreshToken: 'rt-secret-6', storage: 'keychain' })
  })

  it('auto: a new session goes where the probe says; an existing one stays where it is', async () => {
    const keychain = new FakeKeychain()
    keychain.failWith = 'no keychain here'
    const { store, storeAs, files } = stores('auto', keychain)
    assert.deepEqual(await store.prepareLogin(), { storage: 'file', keychainUnavailable: 'could not read the keychain item "acme x" (no keychain here): check that the OS keychain is running and unlocked, or use file storage' })
    await store.writeSession('default', session())
    assert.equal((await files.readSession('default'))?.storage, undefined)
    keychain.failWith = undefined
    // A later process (a new instance) with auto leaves the file session where it is…
    await storeAs('auto').writeSession('default', session({ refreshToken: 'rt-secret-4' }))
    assert.equal((await files.readSession('default'))?.refreshToken, 'rt-secret-4')
    // …and a new login with a working keychain moves it there.
    const next = storeAs('auto')
    assert.deepEqual(await next.prepareLogin(), { storage: 'keychain' })
    await next.writeSession('default', session({ refreshToken: 'rt-secret-5' }))
    assert.equal((await files.readSession('default'))?.storage, 'keychain')
    assert.equal((await next.readSession('default'))?.refreshToken, 'rt-secret-5')
  })

  it('keychain mode without a keychain: prepareLogin is a KeychainError before anything else happens', async () => {
    const keychain = new FakeKeychain()
    keychain.failWith = 'no keychain here'
    await assert.rejects(stores('keychain', keychain).store.prepareLogin(), (error: unknown) => error instanceof KeychainError && /^the OS keychain cannot be used \(.*no keychain here.*\): .*or use file storage$/.test(error.message))
    assert.equal(await stores('file', keychain).store.prepareLogin().then((d) => d.storage), 'file', 'file mode never touches the keychain')
  })
})

describe('CliLogin storage option', () => {
  it('rejects an unknown storage in the library\'s words; status reports where the secrets are', async () => {
    assert.throws(() => new CliLogin({ appName: 'acme', storage: 'disk' as StorageMode }), /^UsageError: option "storage" must be one of auto, keychain, file, not "disk"$/)
    const keychain = new FakeKeychain()
    const home = join(dir, 'facade')
    await new KeychainSessionStore(new FileSessionStore(home), { service: 'acme', mode: 'keychain', keychain, loginCommand: 'acme login' }).writeSession('default', session())
    assert.equal((await new CliLogin({ appName: 'acme', home, keychain }).status())?.storage, 'keychain')
    assert.equal((await new CliLogin({ appName: 'acme', home, keychain, storage: 'file' }).status())?.storage, 'file', 'an explicit storage moves the session')
    assert.deepEqual(keychain.accounts(), [])
  })
})
