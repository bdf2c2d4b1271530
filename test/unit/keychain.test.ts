/**
 * The keychain seam without an OS keychain: large secrets split and joined against a fake that
 * refuses what Windows Credential Manager refuses (more than 2,560 bytes of UTF-16), probe outcomes
 * with fakes that fail or hang, and the one-line KeychainError.
 */
import { CliLoginError } from '../../src/errors.ts'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  checkSessionBus,
  deleteLarge,
  getLarge,
  KEYCHAIN_UNAVAILABLE,
  KeychainError,
  keychainAccount,
  probeKeychain,
  setLarge,
  splitByUtf16Bytes,
  utf16Bytes,
  WINDOWS_SECRET_MAX_BYTES,
  type Keychain,
} from '../../src/session/keychain.ts'

/** An in-memory keychain with Windows' cap; `items` can be inspected, `calls` counted. */
class CappedKeychain implements Keychain {
  readonly items = new Map<string, string>()
  sets = 0
  constructor(readonly maxBytes = WINDOWS_SECRET_MAX_BYTES) {}
  async get(service: string, account: string): Promise<string | undefined> {
    return this.items.get(`${service}\n${account}`)
  }
  async set(service: string, account: string, secret: string): Promise<void> {
    if (utf16Bytes(secret) > this.maxBytes) throw new Error(`Attribute 'password' is longer than platform limit of ${this.maxBytes} chars`)
    this.sets++
    this.items.set(`${service}\n${account}`, secret)
  }
  async delete(service: string, account: string): Promise<boolean> {
    return this.items.delete(`${service}\n${account}`)
  }
  accounts(): string[] {
    return [...this.items.keys()].map((key) => key.split('\n')[1]).sort()
  }
}

/** A JWT-shaped access token of about `bytes` ASCII characters. */
function fakeJwt(length: number): string {
  return `eyJhbGciOiJSUzI1NiJ9.${'x'.repeat(length - 60)}.${'s'.repeat(39)}`.slice(0, length)
}

describe('large secrets through a keychain capped at 2,560 bytes (Windows Credential Manager)', () => {
  const service = 'cli-login'
  const account = keychainAccount('default', 'access_token')

  it('the fake really refuses a JWT access token stored in one item', async () => {
    await assert.rejects(new CappedKeychain().set(service, account, fakeJwt(3000)), /longer than platform limit/)
  })

  it('a secret that fits is one item, stored as is', async () => {
    const keychain = new CappedKeychain()
    const secret = 'r'.repeat(1280) // 2,560 UTF-16 bytes: exactly the cap
    await setLarge(keychain, service, account, secret)
    assert.deepEqual(keychain.accounts(), ['default/access_token'])
    assert.equal(keychain.items.get(`${service}\n${account}`), secret)
    assert.equal(await getLarge(keychain, service, account), secret)
  })

  for (const length of [1281, 2560, 2561, 5000, 12_345]) {
    it(`a ${length}-character token is split into parts under the cap and joined back`, async () => {
      const keychain = new CappedKeychain()
      const token = fakeJwt(length)
      await setLarge(keychain, service, account, token)
      const parts = Math.ceil(length / 1280)
      assert.deepEqual(keychain.accounts(), ['default/access_token', ...Array.from({ length: parts }, (_, i) => `default/access_token#a.${i}`)].sort())
      assert.equal(keychain.items.get(`${service}\n${account}`), `cli-login-split:v1:a:${parts}`)
      assert.equal(await getLarge(keychain, service, account), token)
    })
  }

  it('rewriting alternates slots and leaves no stale part, shorter or longer, split or not', async () => {
    const keychain = new CappedKeychain()
    const sequence = [fakeJwt(6000), fakeJwt(3000), 'short', fakeJwt(4000), fakeJwt(9000), 'again short']
    for (const secret of sequence) {
      await setLarge(keychain, service, account, secret)
      assert.equal(await getLarge(keychain, service, account), secret)
      const parts = utf16Bytes(secret) > WINDOWS_SECRET_MAX_BYTES ? Math.ceil(secret.length / 1280) : 0
      assert.equal(keychain.accounts().length, 1 + parts, `after ${secret.length}: ${keychain.accounts().join(' ')}`)
    }
  })

  it('a crash before the header is written keeps the old secret readable; the next write and delete clean up', async () => {
    const keychain = new CappedKeychain()
    const old = fakeJwt(3000)
    await setLarge(keychain, service, account, old)
    // A write of a longer token that dies after its parts, before its header (the commit).
    const crashing: Keychain = {
      get: (s, a) => keychain.get(s, a),
      delete: (s, a) => keychain.delete(s, a),
      set: async (s, a, secret) => {
        if (a === account) throw new Error('killed')
        await keychain.set(s, a, secret)
      },
    }
    await assert.rejects(setLarge(crashing, service, account, fakeJwt(7000)), /killed/)
    assert.equal(await getLarge(keychain, service, account), old, 'the old header still points at intact parts')
    assert.ok(keychain.accounts().some((a) => a.includes('#b.')), 'orphaned parts of the crashed write exist')
    assert.equal(await deleteLarge(keychain, service, account), true)
    assert.deepEqual(keychain.accounts(), [], 'delete removes the header, the parts and the orphans')
  })

  it('a header whose part is missing is a KeychainError, not a truncated token', async () => {
    const keychain = new CappedKeychain()
    await setLarge(keychain, service, account, fakeJwt(4000))
    await keychain.delete(service, `${account}#a.1`)
    const error = await getLarge(keychain, service, account).catch((e: unknown) => e)
    assert.ok(error instanceof KeychainError)
    assert.match(error.message, /part 2 of 4 is missing/)
  })

  it('a secret that looks like a header is split rather than misread', async () => {
    const keychain = new CappedKeychain()
    await setLarge(keychain, service, account, 'cli-login-split:v1:a:1')
    assert.equal(await getLarge(keychain, service, account), 'cli-login-split:v1:a:1')
  })

  it('absent items: get gives undefined, delete gives false', async () => {
    const keychain = new CappedKeychain()
    assert.equal(await getLarge(keychain, service, account), undefined)
    assert.equal(await deleteLarge(keychain, service, account), false)
  })

  it('splitting counts UTF-16 bytes and never cuts a surrogate pair', () => {
    const text = `${'a'.repeat(3)}😀${'b'.repeat(3)}` // 😀 is two UTF-16 units
    const parts = splitByUtf16Bytes(text, 8) // 4 units per part
    assert.deepEqual(parts, ['aaa', '😀bb', 'b'])
    for (const part of parts) assert.ok(utf16Bytes(part) <= 8)
    assert.equal(parts.join(''), text)
  })
})

describe('item naming', () => {
  it('account is <profile>/<item>', () => {
    assert.equal(keychainAccount('work', 'refresh_token'), 'work/refresh_token')
  })
  it('refuses what would make names ambiguous', () => {
    assert.throws(() => keychainAccount('a/b', 'refresh_token'), TypeError)
    assert.throws(() => keychainAccount('default', 'x#a.0'), TypeError)
  })
})

describe('probeKeychain with fakes', () => {
  it('ok when the round trip works, and the test item is gone afterwards', async () => {
    const keychain = new CappedKeychain()
    assert.deepEqual(await probeKeychain(keychain), { ok: true })
    assert.equal(keychain.items.size, 0)
    assert.equal(keychain.sets, 1)
  })

  it('a failing keychain gives its reason on one line', async () => {
    const failing: Keychain = {
      get: async () => undefined,
      set: async () => { throw new Error('Platform failure: DBus error:\nThe name org.freedesktop.secrets was not provided') },
      delete: async () => false,
    }
    const result = await probeKeychain(failing)
    assert.deepEqual(result, { ok: false, reason: 'Platform failure: DBus error: The name org.freedesktop.secrets was not provided' })
  })

  it('a keychain that does not give back what was written fails', async () => {
    const forgetful: Keychain = { get: async () => undefined, set: async () => {}, delete: async () => false }
    assert.deepEqual(await probeKeychain(forgetful), { ok: false, reason: 'the keychain did not return what was written' })
  })

  it('a keychain that never answers fails at the timeout', async () => {
    const hung: Keychain = { get: () => new Promise(() => {}), set: () => new Promise(() => {}), delete: () => new Promise(() => {}) }
    const started = Date.now()
    const result = await probeKeychain(hung, { timeoutMs: 100 })
    assert.deepEqual(result, { ok: false, reason: 'no answer from the keychain within 100 ms' })
    assert.ok(Date.now() - started < 1000)
  })

  it('a keychain with its own bounded probe is asked to use it', async () => {
    let asked: number | undefined
    const own: Keychain = { get: async () => undefined, set: async () => {}, delete: async () => false, probe: async ({ timeoutMs }) => { asked = timeoutMs; return { ok: true } } }
    assert.deepEqual(await probeKeychain(own), { ok: true })
    assert.equal(asked, 2000)
  })
})

describe('KeychainError', () => {
  it('has a stable code, one line naming the item and what to do, and no secret', () => {
    const error = new KeychainError('get', 'cli-login', 'default/refresh_token', 'DBus error:\n  Did not receive a reply')
    assert.equal(error.code, KEYCHAIN_UNAVAILABLE)
    assert.equal(error.name, 'KeychainError')
    assert.ok(error instanceof Error)
    assert.doesNotMatch(error.message, /\n/)
    assert.equal(
      error.message,
      'could not read the keychain item "cli-login default/refresh_token" (DBus error: Did not receive a reply): ' +
        'check that the OS keychain is running and unlocked, or use file storage',
    )
    assert.ok(error instanceof CliLoginError, 'a CliLoginError: the CLI maps it to exit 1 and its own words')
  })
})

describe('checkSessionBus: does the bus answer the first line of the D-Bus handshake?', () => {
  let dir: string
  const servers: Server[] = []
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'cli-login-bus-check-')) })
  after(async () => {
    for (const server of servers) server.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A unix socket server; `answer` decides what it says to the client's AUTH line (nothing = wedged). */
  async function fakeBus(name: string, answer?: string): Promise<{ env: NodeJS.ProcessEnv; received: () => string }> {
    const path = join(dir, name)
    let received = ''
    const server = createServer((socket) => {
      socket.on('data', (chunk) => {
        received += chunk.toString('latin1')
        if (answer && received.includes('\r\n')) socket.write(answer)
      })
      socket.on('error', () => {})
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(path, resolve))
    return { env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path},guid=0123456789abcdef0123456789abcdef` }, received: () => received }
  }

  it('a bus that answers OK is fine, and it was sent AUTH EXTERNAL with our uid in hex', async () => {
    const bus = await fakeBus('ok', 'OK 0123456789abcdef0123456789abcdef\r\n')
    assert.equal(await checkSessionBus(bus.env, 1000), undefined)
    const uidHex = Buffer.from(String(process.getuid!())).toString('hex')
    assert.equal(bus.received(), `\0AUTH EXTERNAL ${uidHex}\r\n`)
  })

  it('REJECTED is an answer too: the bus is alive (the binding reports what it then refuses)', async () => {
    const bus = await fakeBus('rejected', 'REJECTED EXTERNAL\r\n')
    assert.equal(await checkSessionBus(bus.env, 1000), undefined)
  })

  it('a bus that accepts the connection but never answers is reported at the timeout', async () => {
    const bus = await fakeBus('wedged')
    const started = Date.now()
    assert.equal(await checkSessionBus(bus.env, 150), 'the D-Bus session bus did not answer within 150 ms')
    assert.ok(Date.now() - started < 1000)
  })

  it('no socket: cannot connect, with the errno', async () => {
    assert.equal(await checkSessionBus({ DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'absent')}` }, 1000), `cannot connect to the D-Bus session bus at ${join(dir, 'absent')}: ENOENT`)
  })

  it('no address: libdbus\'s default $XDG_RUNTIME_DIR/bus is checked; with neither, nothing to check', async () => {
    assert.equal(await checkSessionBus({ XDG_RUNTIME_DIR: dir }, 1000), `cannot connect to the D-Bus session bus at ${join(dir, 'bus')}: ENOENT`)
    assert.equal(await checkSessionBus({}, 1000), undefined)
  })

  it('address kinds it does not check are left to the binding', async () => {
    assert.equal(await checkSessionBus({ DBUS_SESSION_BUS_ADDRESS: 'launchd:env=DBUS_LAUNCHD_SESSION_BUS_SOCKET' }, 1000), undefined)
  })
})

describe('loading', () => {
  it('importing the module, and making a native keychain, loads no native code (file storage never pays for it)', () => {
    const script = [
      `const k = await import(${JSON.stringify(new URL('../../src/session/keychain.ts', import.meta.url).href)})`,
      'k.nativeKeychain()',
      "const { createRequire } = await import('node:module')",
      'const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes("keyring"))',
      'process.stdout.write(JSON.stringify(loaded))',
    ].join('\n')
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(child.status, 0, child.stderr)
    assert.deepEqual(JSON.parse(child.stdout), [])
  })
})
