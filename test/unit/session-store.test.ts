import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSessionStore } from '../../src/session/file-store.ts'
import type { Session } from '../../src/session/session.ts'
import { isFresh } from '../../src/session/token-decision.ts'
import { SessionFileError, StorageError, UsageError } from '../../src/errors.ts'
import { defaultHome } from '../../src/app.ts'

function sampleSession(overrides: Partial<Session> = {}): Session {
  return {
    version: 1,
    issuer: 'https://tenant.auth0.com/',
    clientId: 'client',
    requestedScope: 'openid offline_access',
    tokenType: 'Bearer',
    accessToken: 'access-1',
    expiresAt: 2_000_000_000,
    refreshToken: 'refresh-1',
    user: { sub: 'user-1' },
    createdAt: 1_700_000_000,
    ...overrides,
  }
}

async function withHome(fn: (home: string) => Promise<void>) {
  const base = await mkdtemp(join(tmpdir(), 'cli-login-store-'))
  try {
    await fn(join(base, 'home'))
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

test('home resolution: --home, CLI_LOGIN_HOME, XDG_CONFIG_HOME, APPDATA, ~/.config', () => {
  // The library reads no CLI_LOGIN_* variable: CLI_LOGIN_HOME is the standalone CLI's (--home).
  assert.equal(defaultHome('acme', { CLI_LOGIN_HOME: '/env', XDG_CONFIG_HOME: '/xdg' }, 'linux'), '/xdg/acme')
  assert.equal(defaultHome('cli-login', { XDG_CONFIG_HOME: '/xdg' }, 'linux'), '/xdg/cli-login')
  assert.equal(defaultHome('acme', { APPDATA: 'C:\\Users\\me\\AppData\\Roaming', HOME: '/h' }, 'win32'), 'C:\\Users\\me\\AppData\\Roaming\\acme')
  assert.equal(defaultHome('acme', { HOME: '/home/me' }, 'darwin'), '/home/me/.config/acme')
  assert.equal(defaultHome('acme', { HOME: '/home/me' }, 'linux'), '/home/me/.config/acme')
})

test('home resolution never lands under the current directory: a relative or empty XDG_CONFIG_HOME is ignored; a relative or empty HOME or APPDATA is refused, by name', () => {
  assert.equal(defaultHome('acme', { XDG_CONFIG_HOME: 'rel/xdg', HOME: '/home/me' }, 'linux'), '/home/me/.config/acme')
  assert.equal(defaultHome('acme', { XDG_CONFIG_HOME: '', HOME: '/home/me' }, 'linux'), '/home/me/.config/acme')
  assert.equal(defaultHome('acme', { XDG_CONFIG_HOME: '/xdg', HOME: '' }, 'linux'), '/xdg/acme', 'HOME is not needed then')
  for (const [env, platform, name] of [
    [{ HOME: '' }, 'linux', /HOME is empty/],
    [{ HOME: 'me' }, 'darwin', /HOME is a relative path \("me"\)/],
    [{ XDG_CONFIG_HOME: './x', HOME: '.' }, 'linux', /HOME is a relative path/],
    [{ APPDATA: '' }, 'win32', /APPDATA is empty/],
    [{ APPDATA: 'AppData\\Roaming' }, 'win32', /APPDATA is a relative path/],
  ] as const) {
    assert.throws(() => defaultHome('acme', env, platform), (error: unknown) => error instanceof StorageError && name.test(error.message) && /set \w+ to an absolute path$/.test(error.message))
  }
})

test('sessions are written 0600 in 0700 directories and read back', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    await store.writeSession('default', sampleSession())
    assert.deepEqual(await store.readSession('default'), sampleSession())
    for (const dir of [home, join(home, 'profiles'), join(home, 'profiles', 'default')]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir)
    }
    assert.equal((await stat(join(home, 'profiles', 'default', 'session.json'))).mode & 0o777, 0o600)
    const leftovers = (await readdir(join(home, 'profiles', 'default'))).filter((f) => f.endsWith('.tmp'))
    assert.deepEqual(leftovers, [])
  })
})

test('no session → undefined; delete is idempotent', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    assert.equal(await store.readSession('default'), undefined)
    await store.writeSession('default', sampleSession())
    assert.equal(await store.deleteSession('default'), true)
    assert.equal(await store.deleteSession('default'), false)
    assert.equal(await store.readSession('default'), undefined)
  })
})

for (const [name, content, reason] of [
  ['not JSON', '{"version":1,', /not valid JSON/],
  ['not an object', '[1,2]', /not a JSON object/],
  ['missing token', JSON.stringify({ version: 1, issuer: 'https://a/', clientId: 'c', requestedScope: 's', tokenType: 'Bearer', user: {} }), /"accessToken" is missing/],
  ['unknown version', JSON.stringify({ version: 7 }), /unknown version 7/],
] as const) {
  test(`a session file that is ${name} is reported with its path and is left alone`, async () => {
    await withHome(async (home) => {
      const store = new FileSessionStore(home, { loginCommand: 'acme login' })
      const dir = join(home, 'profiles', 'default')
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'session.json'), content)
      await assert.rejects(store.readSession('default'), (error: unknown) => {
        assert.ok(error instanceof SessionFileError)
        assert.ok(error.message.includes(join(dir, 'session.json')))
        assert.match(error.message, reason)
        assert.match(error.message, /run acme login to replace it/)
        return true
      })
      assert.equal(await readFile(join(dir, 'session.json'), 'utf8'), content)
    })
  })
}

test('profiles are listed; bad profile names are usage errors', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    assert.deepEqual(await store.listProfiles(), [])
    await store.writeSession('work', sampleSession())
    await store.writeSession('default', sampleSession())
    assert.deepEqual(await store.listProfiles(), ['default', 'work'])
    await assert.rejects(store.readSession('../etc'), UsageError)
    await assert.rejects(store.writeSession('a/b', sampleSession()), UsageError)
  })
})

test('isFresh honours min TTL and a missing expiry', () => {
  assert.equal(isFresh(1000, 900, 60), true)
  assert.equal(isFresh(1000, 950, 60), false)
  assert.equal(isFresh(1000, 1001, 0), false)
  assert.equal(isFresh(undefined, 1001, 60), true)
})

test('settings files are checked field by field, with their own fix', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    const dir = join(home, 'profiles', 'default')
    await mkdir(dir, { recursive: true })
    for (const [content, reason] of [
      ['{"port":"abc"}', /"port" is not a whole number/],
      ['{"issuer":7}', /"issuer" is not a string/],
      ['{"scope":5}', /"scope" is not a string/],
      ['{"device":"yes"}', /"device" is not true or false/],
      ['not json', /not valid JSON/],
    ] as const) {
      await writeFile(join(dir, 'settings.json'), content)
      await assert.rejects(store.readSettings('default'), (error: unknown) => {
        assert.ok(error instanceof SessionFileError)
        assert.match(error.message, /settings\.json is not a valid settings file/)
        assert.match(error.message, reason)
        assert.match(error.message, /delete it, or log in again to replace it/)
        return true
      })
    }
  })
})

test('deleting a session also deletes what an interrupted write left behind', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    await store.writeSession('default', sampleSession())
    const dir = join(home, 'profiles', 'default')
    await writeFile(join(dir, '.session.json.4242.abcdef.tmp'), JSON.stringify(sampleSession()))
    await store.writeSettings('default', { issuer: 'https://a/' })
    assert.equal(await store.deleteSession('default'), true)
    assert.deepEqual((await readdir(dir)).sort(), ['settings.json'])
  })
})

test('folders under profiles/ that are not profile names are skipped; a home under a file is reported, not thrown', async () => {
  await withHome(async (home) => {
    const store = new FileSessionStore(home)
    await store.writeSession('work', sampleSession())
    await mkdir(join(home, 'profiles', 'bad name'), { recursive: true })
    await writeFile(join(home, 'profiles', 'bad name', 'session.json'), '{}')
    assert.deepEqual(await store.listProfiles(), ['work'])
    const file = join(home, 'a-file')
    await writeFile(file, '')
    const underFile = new FileSessionStore(join(file, 'home'))
    assert.equal(underFile.sessionSignature('default'), undefined)
    await assert.rejects(underFile.readSession('default'), SessionFileError)
  })
})
