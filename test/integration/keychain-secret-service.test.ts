/**
 * The native keychain against a real Secret Service: Debian's gnome-keyring, unlocked, on a private
 * D-Bus session bus (test/helpers/secret-service.ts). What the binding wrote is checked with the
 * keyring's own client, `secret-tool`, never only through the binding itself. The failure cases run
 * with no bus at all, a bus that stops answering, and a keyring daemon killed after a write.
 *
 * The binding connects using this process's environment, and libdbus reads the session bus address
 * once per process: so this file starts ONE fixture and points process.env at it for good, kills
 * its keyring daemon only in the last suite, and runs the no-bus case of the in-process API in a
 * child process.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import {
  deleteLarge,
  getLarge,
  KeychainError,
  keychainAccount,
  nativeKeychain,
  probeKeychain,
  setLarge,
} from '../../src/session/keychain.ts'
import { isSecretServiceInstalled, noBusEnv, secretTool, startSecretService, type SecretService } from '../helpers/secret-service.ts'
import { filesContaining } from '../helpers/files-containing.ts'

const SERVICE = 'cli-login-test'
const skip = isSecretServiceInstalled() ? false : 'gnome-keyring, dbus or secret-tool not installed (scripts/ci/install-secret-service.sh)'

function useEnv(env: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]))
  Object.assign(process.env, env)
  return () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}


let secretService: SecretService
let restoreEnv: (() => void) | undefined
before(async () => {
  if (skip) return
  secretService = await startSecretService()
  restoreEnv = useEnv(secretService.env)
})
after(async () => {
  restoreEnv?.()
  await secretService?.stop()
})

describe('native keychain on a real Secret Service (gnome-keyring on a private bus)', { skip }, () => {

  it('set, get and delete one item; secret-tool sees it under service/username, then sees nothing', async () => {
    const keychain = nativeKeychain()
    const account = keychainAccount('default', 'refresh_token')
    const secret = `rt-${Date.now()}-not-a-real-token`
    await keychain.set(SERVICE, account, secret)
    assert.equal(await keychain.get(SERVICE, account), secret)

    const lookup = secretTool(secretService.env, ['lookup', 'service', SERVICE, 'username', account])
    assert.equal(lookup.status, 0, lookup.stderr)
    assert.equal(lookup.stdout, secret)
    const search = secretTool(secretService.env, ['search', '--all', 'service', SERVICE])
    assert.match(search.stdout, new RegExp(`label = keyring:${account}@${SERVICE}`))
    assert.match(search.stderr, new RegExp(`attribute.username = ${account}`))
    assert.deepEqual(await filesContaining(secretService.dir, secret), [], 'no file (home, keyring files) holds the secret in plaintext')

    assert.equal(await keychain.delete(SERVICE, account), true)
    assert.equal(await keychain.get(SERVICE, account), undefined)
    assert.equal(await keychain.delete(SERVICE, account), false)
    assert.notEqual(secretTool(secretService.env, ['lookup', 'service', SERVICE, 'username', account]).status, 0)
    assert.equal(secretTool(secretService.env, ['search', '--all', 'service', SERVICE]).stdout, '')
  })

  it('an item stored by secret-tool (secret on stdin) is read by the binding: same attributes both ways', async () => {
    const account = keychainAccount('work', 'client_secret')
    const stored = secretTool(secretService.env, ['store', '--label=test', 'service', SERVICE, 'username', account], 'cs-from-secret-tool')
    assert.equal(stored.status, 0, stored.stderr)
    const keychain = nativeKeychain()
    assert.equal(await keychain.get(SERVICE, account), 'cs-from-secret-tool')
    assert.equal(await keychain.delete(SERVICE, account), true)
  })

  it('a 5,000-character access token is split into parts and joined; deleteLarge leaves nothing', async () => {
    const keychain = nativeKeychain()
    const account = keychainAccount('default', 'access_token')
    const token = `eyJhbGciOiJSUzI1NiJ9.${'p'.repeat(4950)}.signature`
    await setLarge(keychain, SERVICE, account, token)
    assert.equal(await getLarge(keychain, SERVICE, account), token)
    const header = secretTool(secretService.env, ['lookup', 'service', SERVICE, 'username', account])
    assert.equal(header.stdout, 'cli-login-split:v1:a:4')
    assert.equal(secretTool(secretService.env, ['lookup', 'service', SERVICE, 'username', `${account}#a.0`]).stdout.length, 1280)
    assert.equal(await deleteLarge(keychain, SERVICE, account), true)
    assert.equal(secretTool(secretService.env, ['search', '--all', 'service', SERVICE]).stdout, '')
  })

  it('the probe succeeds well within 2 s and leaves no test item behind', async () => {
    const started = performance.now()
    const result = await probeKeychain(nativeKeychain({ env: { ...process.env, ...secretService.env }, probeService: SERVICE }))
    assert.deepEqual(result, { ok: true })
    assert.ok(performance.now() - started < 2000)
    assert.equal(secretTool(secretService.env, ['search', '--all', 'service', SERVICE]).stdout, '')
  })

  it('a bus that stops answering: the probe gives up at its timeout, the CLI is not hung', async () => {
    process.kill(secretService.pids.bus, 'SIGSTOP')
    try {
      const started = performance.now()
      const result = await probeKeychain(nativeKeychain({ env: { ...process.env, ...secretService.env } }), { timeoutMs: 2000 })
      const elapsedMs = performance.now() - started
      assert.deepEqual(result, { ok: false, reason: 'no answer from the keychain within 2000 ms' })
      assert.ok(elapsedMs < 2500, `took ${Math.round(elapsedMs)} ms`)
    } finally {
      process.kill(secretService.pids.bus, 'SIGCONT')
    }
  })

  it('a bus that stops answering: an in-process get is a KeychainError at the bus timeout, not a hang', async () => {
    const keychain = nativeKeychain({ busTimeoutMs: 500 })
    await keychain.set(SERVICE, 'default/refresh_token', 'rt-before-the-bus-stopped')
    process.kill(secretService.pids.bus, 'SIGSTOP')
    try {
      const started = performance.now()
      const error = await keychain.get(SERVICE, 'default/refresh_token').catch((e: unknown) => e)
      assert.ok(performance.now() - started < 1500)
      assert.ok(error instanceof KeychainError, String(error))
      assert.match(error.message, /^could not read the keychain item "cli-login-test default\/refresh_token" \(the D-Bus session bus did not answer within 500 ms\)/)
    } finally {
      process.kill(secretService.pids.bus, 'SIGCONT')
    }
    assert.equal(await keychain.delete(SERVICE, 'default/refresh_token'), true, 'the bus answers again once it runs')
  })
})

// Last of the suites on the fixture: it locks the keyring, then kills its daemon.
describe('native keychain when the keyring becomes unusable after a write: locked, then its daemon killed', { skip }, () => {
  const account = keychainAccount('default', 'refresh_token')

  /** get, set and delete all reject with a one-line KeychainError naming the item and the cause, never the secret. */
  async function assertAllFail(cause: RegExp): Promise<void> {
    const keychain = nativeKeychain()
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['read', () => keychain.get(SERVICE, account)],
      ['write', () => keychain.set(SERVICE, account, 'rt-written-after-the-keyring-went')],
      ['delete', () => keychain.delete(SERVICE, account)],
    ]
    for (const [verb, attempt] of attempts) {
      const error = await attempt().then(() => assert.fail(`${verb} should have failed`), (e: unknown) => e)
      assert.ok(error instanceof KeychainError, String(error))
      assert.equal(error.code, 'KEYCHAIN_UNAVAILABLE')
      assert.doesNotMatch(error.message, /\n/)
      assert.match(error.message, new RegExp(`^could not ${verb} the keychain item "${SERVICE} default/refresh_token" \\(.*${cause.source}.*\\): check that`))
      assert.doesNotMatch(error.message, /rt-before|rt-written/)
    }
  }

  it('locked (no prompter to unlock it): every call is a KeychainError, the probe says why', async () => {
    await nativeKeychain().set(SERVICE, account, 'rt-before-the-keyring-was-locked')
    const lock = spawnSync('dbus-send', [
      '--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login',
    ], { env: { ...process.env, ...secretService.env }, encoding: 'utf8' })
    assert.equal(lock.status, 0, lock.stderr)
    await assertAllFail(/unlock prompt was dismissed/)
    const probe = await probeKeychain(nativeKeychain({ env: { ...process.env, ...secretService.env } }))
    assert.deepEqual(probe, { ok: false, reason: "Couldn't access platform storage: Secret Service: unlock prompt was dismissed" })
  })

  it('daemon killed: every call is a KeychainError, never a crash', async () => {
    await secretService.killKeyring()
    await assertAllFail(/org\.freedesktop\.secrets was not provided/)
  })
})

describe('native keychain with no session bus at all', { skip }, () => {
  let fixture: Awaited<ReturnType<typeof noBusEnv>>
  before(async () => { fixture = await noBusEnv() })
  after(async () => { await fixture?.cleanup() })

  it('the probe fails within 2 s with a reason naming the bus, no crash', async () => {
    const started = performance.now()
    const result = await probeKeychain(nativeKeychain({ env: { ...process.env, ...fixture.env } }))
    assert.ok(performance.now() - started < 2000)
    assert.equal(result.ok, false)
    assert.ok(!result.ok && /Failed to connect to socket .*no-bus-here/.test(result.reason), JSON.stringify(result))
  })

  it('set and get are KeychainErrors naming the bus, not a silent fallback to the kernel keyring (in a process of its own)', () => {
    const script = [
      `import { nativeKeychain } from ${JSON.stringify(new URL('../../src/session/keychain.ts', import.meta.url).href)}`,
      'const keychain = nativeKeychain()',
      'const outcome = async (p) => p.then((v) => ({ ok: v }), (e) => ({ name: e.name, code: e.code, message: e.message }))',
      `const set = await outcome(keychain.set('${SERVICE}', 'default/refresh_token', 'rt-nowhere'))`,
      `const get = await outcome(keychain.get('${SERVICE}', 'default/refresh_token'))`,
      // Without the JavaScript bus check, the binding itself must refuse (Secret Service pinned).
      `const unchecked = await outcome(nativeKeychain({ busTimeoutMs: 0 }).set('${SERVICE}', 'default/refresh_token', 'rt-nowhere'))`,
      'process.stdout.write(JSON.stringify({ set, get, unchecked }))',
    ].join('\n')
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, ...fixture.env },
      encoding: 'utf8',
      timeout: 10_000,
    })
    assert.equal(child.status, 0, child.stderr)
    const { set, get, unchecked } = JSON.parse(child.stdout) as Record<'set' | 'get' | 'unchecked', { name: string; code: string; message: string }>
    for (const [verb, outcome] of [['write', set], ['read', get]] as const) {
      assert.equal(outcome.name, 'KeychainError')
      assert.equal(outcome.code, 'KEYCHAIN_UNAVAILABLE')
      assert.match(outcome.message, new RegExp(`^could not ${verb} the keychain item .*cannot connect to the D-Bus session bus at .*no-bus-here: ENOENT`))
      assert.doesNotMatch(outcome.message, /rt-nowhere/)
    }
    assert.equal(unchecked.name, 'KeychainError')
    assert.match(unchecked.message, /^could not write the keychain item .*Failed to connect to socket .*no-bus-here/)
    assert.doesNotMatch(unchecked.message, /rt-nowhere/)
  })
})
