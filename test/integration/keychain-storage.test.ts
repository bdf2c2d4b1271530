/**
 * `--storage auto|keychain|file` end to end: the built CLI, spawned, against the test kit's provider
 * and a real Secret Service (gnome-keyring on a private D-Bus, test/helpers/secret-service.ts).
 * What is in the keychain is checked with the keyring's own client, `secret-tool`; that no file holds
 * a secret, by reading every file under the home and the keyring's directory. Every CLI here is a
 * process of its own, given the bus in its environment (libdbus reads it once per process), so one
 * file can use several fixtures: the one whose daemon is killed is its own.
 */
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { authorizeOverHttp, loginOverHttp } from '../helpers/http-browser.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { isSecretServiceInstalled, noBusEnv, secretTool, startSecretService, type SecretService } from '../helpers/secret-service.ts'

const skip = isSecretServiceInstalled() ? false : 'gnome-keyring, dbus or secret-tool not installed (scripts/ci/install-secret-service.sh)'
const [alice] = DEMO_USERS
const SERVICE = 'cli-login'

let provider: TestProvider
let keyring: SecretService
const cleanups: Array<() => Promise<void>> = []
before(async () => {
  if (skip) return
  provider = await startTestProvider({ accessTokenTtlS: 3600 })
  keyring = await startSecretService()
})
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await keyring?.stop()
  await provider?.close()
})

interface Home {
  env: NodeJS.ProcessEnv
  home: string
  sessionFile: string
  /** The session file as stored (no secrets when they are in the keychain). */
  file(): Promise<Record<string, unknown>>
}

/** A fresh home whose CLIs talk to `bus` (a fixture's env, or noBusEnv()), with `storage` unset (auto) unless given. */
async function newHome(bus: Record<string, string>, storage?: string): Promise<Home> {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const env = cleanEnv(temp.dir, { ...bus, CLI_LOGIN_STORAGE: storage })
  const home = join(temp.dir, 'cli-login')
  const sessionFile = join(home, 'profiles', 'default', 'session.json')
  return { env, home, sessionFile, file: async () => JSON.parse(await readFile(sessionFile, 'utf8')) as Record<string, unknown> }
}

async function login(env: NodeJS.ProcessEnv, extra: string[] = []) {
  const port = await findFreePortRange(3)
  const cli = startCli(['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3', ...extra], env)
  const browsing = cli.url.then((url) => loginOverHttp(url, { username: alice.username, password: alice.password }), () => undefined)
  const result = await cli.result
  await browsing.catch(() => {})
  return result
}

function lookup(bus: SecretService, account: string): string | undefined {
  const found = secretTool(bus.env, ['lookup', 'service', SERVICE, 'username', account])
  return found.status === 0 ? found.stdout : undefined
}

function items(bus: SecretService): string {
  const found = secretTool(bus.env, ['search', '--all', 'service', SERVICE])
  return found.stdout + found.stderr
}

/** Files under the directories whose bytes contain any of the secrets. */
async function filesHolding(dirs: string[], secrets: string[]): Promise<string[]> {
  const found: string[] = []
  for (const dir of dirs) {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue
      const path = join(entry.parentPath, entry.name)
      const bytes = await readFile(path)
      if (secrets.some((secret) => bytes.includes(secret))) found.push(path)
    }
  }
  return found
}

function requests(): number {
  return Object.values(provider.stats.requests).reduce((a, b) => a + b, 0)
}

/**
 * The session's tokens: the refresh token as the keychain holds it (read with secret-tool); the
 * access and ID tokens from the keychain too when it keeps them there only, else from the 0600 file
 * that caches them (and then the keychain has no access token item).
 */
async function sessionTokens(bus: SecretService, h: Home): Promise<{ accessToken: string; refreshToken: string; idToken: string }> {
  const secrets = lookup(bus, 'default/secrets')
  assert.ok(secrets, `the secrets item is in the keychain: ${items(bus)}`)
  const inKeychain = JSON.parse(secrets) as { refreshToken: string; idToken?: string }
  const file = await h.file()
  const accessToken = file.accessToken === undefined ? lookup(bus, 'default/access_token') : (file.accessToken as string)
  if (file.accessToken !== undefined) assert.equal(lookup(bus, 'default/access_token'), undefined, 'no access token item while the file caches it')
  const idToken = inKeychain.idToken ?? (file.idToken as string | undefined)
  assert.ok(accessToken && inKeychain.refreshToken && idToken)
  return { accessToken, refreshToken: inKeychain.refreshToken, idToken }
}

describe('storage auto with a Secret Service: the secrets go to the keychain', { skip }, () => {
  test('login says so once; secret-tool finds the refresh token, no file holds it; the 0600 file caches the access and ID tokens; status --json says keychain; token is served without a request', async () => {
    const h = await newHome(keyring.env)
    const result = await login(h.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr.match(/OS keychain/g)?.length, 1, result.stderr)
    assert.match(result.stderr, /The refresh token is in the OS keychain \(service "cli-login"\); .*session\.json \(0600\) caches the current access and ID tokens \(--keychain-access-token keeps them in the keychain only\)\./)

    const secrets = await sessionTokens(keyring, h)
    const file = await h.file()
    assert.equal(file.storage, 'keychain')
    for (const key of ['refreshToken', 'clientSecret']) assert.equal(file[key], undefined, key)
    assert.equal(file.accessToken, secrets.accessToken)
    assert.equal(file.idToken, secrets.idToken)
    assert.deepEqual(await filesHolding([h.home, keyring.dir], [secrets.refreshToken]), [], 'no file under the home (or the keyring directory) holds the refresh token')

    const status = await runCli(['status', '--json'], h.env)
    assert.equal(status.code, 0, status.stderr)
    const json = JSON.parse(status.stdout) as Record<string, unknown>
    assert.equal(json.storage, 'keychain')
    assert.equal(json.has_refresh_token, true)
    assert.equal(json.subject, alice.sub)

    const before = requests()
    const token = await runCli(['token'], h.env)
    assert.equal(token.code, 0, token.stderr)
    assert.equal(token.stdout, `${secrets.accessToken}\n`)
    const id = await runCli(['token', '--token-type', 'id'], h.env)
    assert.equal(id.stdout, `${secrets.idToken}\n`)
    assert.equal(requests(), before, 'a fresh token costs no request to the provider')
  })

  test('--keychain-access-token: login keeps every token in the keychain, no file holds one; token reads it from there; the choice stays with the session and can be undone', async () => {
    const h = await newHome(keyring.env)
    const result = await login(h.env, ['--keychain-access-token'])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /The tokens are in the OS keychain \(service "cli-login"\); .*session\.json holds no secret/)
    const secrets = await sessionTokens(keyring, h)
    assert.ok(lookup(keyring, 'default/access_token'))
    const file = await h.file()
    for (const key of ['accessToken', 'refreshToken', 'idToken', 'clientSecret']) assert.equal(file[key], undefined, key)
    assert.deepEqual(await filesHolding([h.home, keyring.dir], Object.values(secrets)), [], 'no file holds a token')
    assert.equal((await runCli(['token'], h.env)).stdout, `${secrets.accessToken}\n`)
    assert.equal((await runCli(['token', '--token-type', 'id'], h.env)).stdout, `${secrets.idToken}\n`)
    // A refresh without the flag keeps them in the keychain.
    const refreshed = await runCli(['token', '--force-refresh'], h.env)
    assert.equal(refreshed.code, 0, refreshed.stderr)
    assert.equal((await h.file()).accessToken, undefined)
    assert.equal(lookup(keyring, 'default/access_token'), refreshed.stdout.trim())
    // Turned off: the tokens are cached in the file again, the access token item is gone.
    const cached = await runCli(['token'], { ...h.env, CLI_LOGIN_KEYCHAIN_ACCESS_TOKEN: 'false' })
    assert.equal(cached.stdout, refreshed.stdout)
    assert.equal((await h.file()).accessToken, refreshed.stdout.trim())
    assert.equal(lookup(keyring, 'default/access_token'), undefined)
  })

  test('20 token processes on an expired session: one refresh grant; the rotated refresh token is in the keychain, not on disk', async () => {
    const h = await newHome(keyring.env)
    assert.equal((await login(h.env)).code, 0)
    const old = await sessionTokens(keyring, h)
    const file = await h.file()
    file.expiresAt = Math.floor(Date.now() / 1000) - 1
    await writeFile(h.sessionFile, JSON.stringify(file))
    const grants = provider.stats.grants.refresh_token ?? 0
    const results = await Promise.all(Array.from({ length: 20 }, () => runCli(['token', '--min-ttl', '0'], h.env)))
    for (const r of results) assert.equal(r.code, 0, r.stderr)
    const printed = new Set(results.map((r) => r.stdout.trim()))
    assert.equal(printed.size, 1, 'everyone printed the one refreshed token')
    assert.equal(provider.stats.grants.refresh_token ?? 0, grants + 1, 'exactly one refresh grant')
    const now = await sessionTokens(keyring, h)
    assert.equal(now.accessToken, [...printed][0])
    assert.notEqual(now.refreshToken, old.refreshToken, 'rotated refresh token stored in the keychain')
    assert.equal((await provider.verifyAccessToken(now.accessToken))?.sub, alice.sub)
    assert.deepEqual(await filesHolding([h.home], [now.refreshToken, old.refreshToken]), [])
    const later = await runCli(['token', '--force-refresh'], h.env)
    assert.equal(later.code, 0, later.stderr)
    assert.equal((await sessionTokens(keyring, h)).accessToken, later.stdout.trim(), 'the rotated refresh token works')
  })

  test('switching storage both ways moves the session without a new login and leaves no secret behind; logout leaves no item', async () => {
    const h = await newHome(keyring.env)
    assert.equal((await login(h.env)).code, 0)
    const secrets = await sessionTokens(keyring, h)
    const logins = provider.stats.grants.authorization_code

    const toFile = await runCli(['status', '--json', '--storage', 'file'], h.env)
    assert.equal(toFile.code, 0, toFile.stderr)
    assert.equal((JSON.parse(toFile.stdout) as { storage: string }).storage, 'file')
    assert.equal(items(keyring), '', 'no item left in the keychain')
    const file = await h.file()
    assert.equal(file.storage, undefined)
    assert.equal(file.accessToken, secrets.accessToken)
    assert.equal(file.refreshToken, secrets.refreshToken)
    // auto keeps a session where it is.
    assert.equal((await runCli(['token'], h.env)).stdout, `${secrets.accessToken}\n`)
    assert.equal(items(keyring), '')

    const toKeychain = await runCli(['token', '--storage', 'keychain'], h.env)
    assert.equal(toKeychain.code, 0, toKeychain.stderr)
    assert.equal(toKeychain.stdout, `${secrets.accessToken}\n`)
    assert.deepEqual(await sessionTokens(keyring, h), secrets)
    assert.equal((await h.file()).storage, 'keychain')
    assert.deepEqual(await filesHolding([h.home], [secrets.refreshToken]), [])
    assert.equal(provider.stats.grants.authorization_code, logins, 'no new login')

    const revocations = provider.stats.revocations
    const logout = await runCli(['logout'], h.env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(provider.stats.revocations, revocations + 1, 'the refresh token read from the keychain was revoked')
    assert.equal(items(keyring), '', 'logout leaves no item')
    assert.equal(await readFile(h.sessionFile).catch(() => 'gone'), 'gone')
  })

  test('a pending login (--no-wait) is a secret of the profile: in the keychain item, not the file; moved with --storage; used once by --finish in another process; logout leaves no item', async () => {
    const h = await newHome(keyring.env)
    const port = await findFreePortRange(1)
    const start = await runCli(['login', '--no-wait', '--json', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port)], h.env)
    assert.equal(start.code, 0, start.stderr)
    const { url, login_id: loginId } = JSON.parse(start.stdout) as { url: string; login_id: string }
    const state = new URL(url).searchParams.get('state')!
    const pendingFile = join(h.home, 'profiles', 'default', 'pending-login.json')
    const inKeychain = () => JSON.parse(lookup(keyring, 'default/pending_login') ?? 'null') as { attempt?: { state: string; codeVerifier: string } } | null
    const verifier = inKeychain()?.attempt?.codeVerifier
    assert.ok(verifier && inKeychain()?.attempt?.state === state, `the attempt is in the keychain: ${items(keyring)}`)
    const record = JSON.parse(await readFile(pendingFile, 'utf8')) as Record<string, unknown>
    assert.deepEqual([record.storage, record.loginId, record.attempt, record.settings], ['keychain', loginId, undefined, undefined])
    assert.deepEqual(await filesHolding([h.home], [verifier, state]), [], 'no file holds the verifier or the state')

    const toFile = await runCli(['status', '--storage', 'file'], h.env)
    assert.equal(toFile.code, 4, 'no session yet')
    assert.equal(inKeychain(), null, 'moved out of the keychain')
    assert.equal((JSON.parse(await readFile(pendingFile, 'utf8')) as { attempt: { codeVerifier: string } }).attempt.codeVerifier, verifier)
    await runCli(['status', '--storage', 'keychain'], h.env)
    assert.equal(inKeychain()?.attempt?.codeVerifier, verifier, 'and back')
    assert.deepEqual(await filesHolding([h.home], [verifier]), [])

    const address = await authorizeOverHttp(url, { username: alice.username, password: alice.password })
    const finish = await runCli(['login', '--finish', address], h.env)
    assert.equal(finish.code, 0, finish.stderr)
    assert.equal(inKeychain(), null, 'used: its secrets are gone')
    await sessionTokens(keyring, h)
    assert.equal((await runCli(['login', '--finish', address], h.env)).code, 1)

    assert.equal((await runCli(['login', '--no-wait', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port)], h.env)).code, 0)
    assert.ok(inKeychain()?.attempt)
    assert.equal((await runCli(['logout'], h.env)).code, 0)
    assert.equal(items(keyring), '', 'logout leaves no item, the pending login\'s neither')
    assert.equal(await readFile(pendingFile).catch(() => 'gone'), 'gone')
  })

  for (const keychainOnly of [false, true]) {
    test(`a keychain daemon gone after login${keychainOnly ? ' (--keychain-access-token)' : ''}: ${keychainOnly ? '' : 'a cached token is still served from the file; '}what needs the keychain exits 1 with one line, writes nothing to disk`, async () => {
      const own = await startSecretService()
      cleanups.push(() => own.stop())
      const h = await newHome(own.env)
      assert.equal((await login(h.env, keychainOnly ? ['--keychain-access-token'] : [])).code, 0)
      const secrets = await sessionTokens(own, h)
      const before = await readFile(h.sessionFile, 'utf8')
      await own.killKeyring()
      if (!keychainOnly) assert.equal((await runCli(['token'], h.env)).stdout, `${secrets.accessToken}\n`, 'the cached token needs no keychain')
      const item = keychainOnly ? 'access_token' : 'secrets'
      for (const args of [...(keychainOnly ? [['token']] : []), ['token', '--force-refresh'], ['status']]) {
        const result = await runCli(args, h.env)
        assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`)
        assert.equal(result.stdout, '')
        assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
        assert.match(result.stderr, new RegExp(`^cli-login: could not read the keychain item "cli-login default/${item}" \\(.+\\): check that the OS keychain is running and unlocked, or run cli-login login again with --storage file\n$`))
      }
      assert.equal(await readFile(h.sessionFile, 'utf8'), before, 'the session file is untouched')
      assert.deepEqual(await filesHolding([h.home], [secrets.refreshToken]), [], 'no fallback that writes a secret to disk')
    })
  }
})

describe('no session bus at all', { skip }, () => {
  test('auto falls back to the 0600 file and says so once; status --json says file', async () => {
    const bus = await noBusEnv()
    cleanups.push(bus.cleanup)
    const h = await newHome(bus.env)
    const result = await login(h.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr.match(/No usable OS keychain/g)?.length, 1, result.stderr)
    assert.match(result.stderr, /No usable OS keychain \(.*no-bus-here.*\): the tokens are in .*session\.json \(0600\)\. --storage keychain makes this an error\./)
    const file = await h.file()
    assert.equal(typeof file.accessToken, 'string')
    assert.equal(file.storage, undefined)
    const status = await runCli(['status', '--json'], h.env)
    assert.equal((JSON.parse(status.stdout) as { storage: string }).storage, 'file')
    assert.equal((await runCli(['token'], h.env)).stdout, `${file.accessToken as string}\n`)
  })

  test('--storage keychain: login fails before the browser opens, one line, exit 1, nothing stored', async () => {
    const bus = await noBusEnv()
    cleanups.push(bus.cleanup)
    const h = await newHome(bus.env, 'keychain')
    const authorizations = provider.stats.authorizationRequests.length
    const result = await login(h.env)
    assert.equal(result.code, 1, result.stderr)
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
    assert.match(lastLine(result.stderr), /^cli-login: the OS keychain cannot be used \(.*no-bus-here.*\): check that the OS keychain is running and unlocked, or use --storage file$/)
    assert.equal(provider.stats.authorizationRequests.length, authorizations)
    assert.equal(await readFile(h.sessionFile).catch(() => 'none'), 'none')
  })

  test('token --storage keychain on a file session: exit 1, one line, the file session left as it was', async () => {
    const bus = await noBusEnv()
    cleanups.push(bus.cleanup)
    const h = await newHome(bus.env, 'file')
    assert.equal((await login(h.env)).code, 0)
    const before = await readFile(h.sessionFile, 'utf8')
    const result = await runCli(['token', '--storage', 'keychain'], h.env)
    assert.equal(result.code, 1, result.stderr)
    assert.equal(result.stdout, '')
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
    assert.match(result.stderr, /could not (read|write) the keychain item .*no-bus-here/)
    assert.equal(await readFile(h.sessionFile, 'utf8'), before)
  })
})
