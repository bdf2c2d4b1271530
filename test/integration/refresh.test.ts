/** Sessions that last: refresh, rotation, one refresh across processes, faults. */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider as startDemoProvider, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { cleanEnv, lastLine, makeTempHome, runCli } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
const RECORD_LOADS = fileURLToPath(new URL('../helpers/record-loads.cjs', import.meta.url))
const ACCESS_TOKEN_TTL_S = 3
let provider: DemoProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startDemoProvider({ accessTokenTtlS: ACCESS_TOKEN_TTL_S })
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function loggedIn(target: DemoProvider = provider) {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const env = cleanEnv(home.dir)
  const port = await findFreePortRange(3)
  const login = await runMain(['login', '--issuer', target.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3'], env, {
    username: alice.username,
    password: alice.password,
  })
  assert.equal(login.code, 0, login.stderr)
  const sessionFile = join(home.dir, 'cli-login', 'profiles', 'default', 'session.json')
  return { env, home: join(home.dir, 'cli-login'), sessionFile, session: async () => JSON.parse(await readFile(sessionFile, 'utf8')) }
}

/** Makes the stored access token look expired (as if time had passed), keeping the refresh token. */
async function expire(sessionFile: string) {
  const session = JSON.parse(await readFile(sessionFile, 'utf8'))
  session.expiresAt = Math.floor(Date.now() / 1000) - 1
  await writeFile(sessionFile, JSON.stringify(session))
}

function refreshGrants() {
  return provider.stats.grants.refresh_token ?? 0
}

async function revokeAtProvider(token: string) {
  const metadata = await (await fetch(new URL('.well-known/openid-configuration', provider.issuer.endsWith('/') ? provider.issuer : `${provider.issuer}/`))).json()
  const response = await fetch(metadata.revocation_endpoint, { method: 'POST', body: new URLSearchParams({ token, client_id: DEMO_CLIENT_ID }) })
  assert.equal(response.status, 200)
}

describe('refresh', () => {
  test('a real expiry: token refreshes, prints a new valid token and stores the rotated refresh token', async () => {
    const { env, session } = await loggedIn()
    const before = await session()
    const cached = await runCli(['token', '--min-ttl', '0'], env)
    assert.equal(cached.stdout.trim(), before.accessToken, 'still valid: served from disk')
    await sleep((ACCESS_TOKEN_TTL_S + 1) * 1000)
    assert.equal(await provider.verifyAccessToken(before.accessToken), undefined, 'the old token has expired at the provider')
    const grants = refreshGrants()
    const result = await runCli(['token', '--min-ttl', '0'], env)
    assert.equal(result.code, 0, result.stderr)
    const token = result.stdout.trim()
    assert.notEqual(token, before.accessToken)
    assert.equal((await provider.verifyAccessToken(token))?.sub, alice.sub)
    assert.equal(refreshGrants(), grants + 1)
    const after = await session()
    assert.equal(after.accessToken, token)
    assert.notEqual(after.refreshToken, before.refreshToken, 'rotated refresh token stored')
  })

  test('--force-refresh refreshes a valid token; --min-ttl decides what is "about to expire"', async () => {
    const { env, session } = await loggedIn()
    const before = await session()
    const grants = refreshGrants()
    assert.equal((await runCli(['token', '--min-ttl', '0'], env)).stdout.trim(), before.accessToken)
    assert.equal(refreshGrants(), grants)
    const forced = await runCli(['token', '--force-refresh'], env)
    assert.equal(forced.code, 0, forced.stderr)
    assert.notEqual(forced.stdout.trim(), before.accessToken)
    assert.equal(refreshGrants(), grants + 1)
    const ttl = await runCli(['token', '--min-ttl', '3600'], env)
    assert.equal(ttl.code, 0)
    assert.equal(refreshGrants(), grants + 2)
  })

  test('20 token processes at once on an expired session: all get the token, the provider sees one refresh, the session lives on', async () => {
    const { env, sessionFile, session } = await loggedIn()
    await expire(sessionFile)
    const grants = refreshGrants()
    const errors = provider.stats.refreshErrors
    // Which processes load the full CLI: only the one that refreshes; the others wait in the fast path.
    const loads = await mkdtemp(join(tmpdir(), 'cli-login-loads-'))
    cleanups.push(() => rm(loads, { recursive: true, force: true }))
    const recording = { ...env, RECORD_LOADS_DIR: loads, NODE_OPTIONS: `--require ${RECORD_LOADS}` }
    const results = await Promise.all(Array.from({ length: 20 }, () => runCli(['token', '--min-ttl', '0'], recording)))
    for (const r of results) assert.equal(r.code, 0, r.stderr)
    const tokens = new Set(results.map((r) => r.stdout.trim()))
    assert.equal(tokens.size, 1, 'everyone printed the one refreshed token')
    assert.equal((await provider.verifyAccessToken([...tokens][0]))?.sub, alice.sub)
    assert.equal(refreshGrants(), grants + 1, 'exactly one refresh grant')
    assert.equal(provider.stats.refreshErrors, errors)
    const records = await Promise.all((await readdir(loads)).map(async (name) => JSON.parse(await readFile(join(loads, name), 'utf8')) as { files: string[] }))
    assert.equal(records.length, 20)
    assert.equal(records.filter((r) => r.files.some((f) => f.endsWith('/dist/cli.cjs'))).length, 1, 'one process loaded the full CLI')
    const later = await runCli(['token', '--force-refresh'], env)
    assert.equal(later.code, 0, later.stderr)
    assert.equal((await session()).accessToken, later.stdout.trim())
  })

  test('a revoked session → exit 4 "session expired", one line; status says so', async () => {
    const { env, sessionFile, session } = await loggedIn()
    await revokeAtProvider((await session()).refreshToken)
    await expire(sessionFile)
    const result = await runCli(['token'], env)
    assert.equal(result.code, 4)
    assert.equal(result.stdout, '')
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
    assert.match(result.stderr, /session expired.*run cli-login login/)
    const status = await runCli(['status'], env)
    assert.equal(status.code, 4)
    assert.match(lastLine(status.stderr), /Session expired/)
    const again = await runCli(['token'], env)
    assert.equal(again.code, 4, 'fails fast the second time too')
  })

  test('reusing a rotated refresh token is caught by the provider: the session is revoked (what Auth0 does to a racy client)', async () => {
    const { env, sessionFile, session } = await loggedIn()
    const stolen = (await session()).refreshToken
    assert.equal((await runCli(['token', '--force-refresh'], env)).code, 0)
    const metadata = await (await fetch(new URL('.well-known/openid-configuration', provider.issuer.endsWith('/') ? provider.issuer : `${provider.issuer}/`))).json()
    const reuse = await fetch(metadata.token_endpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen, client_id: DEMO_CLIENT_ID }) })
    assert.equal(reuse.status, 400)
    await expire(sessionFile)
    const result = await runCli(['token'], env)
    assert.equal(result.code, 4)
  })
})

describe('a long-running process (the library)', () => {
  test('serves the token from memory, re-reads the file when another process changed it, and never reuses a rotated refresh token', async () => {
    const { env, home, session } = await loggedIn()
    const { CliLogin } = await import('../../src/index.ts')
    const auth = new CliLogin({ appName: 'cli-login', home, system: { env } })
    const first = await auth.getAccessToken({ minTtlS: 0 })
    assert.equal(first.access_token, (await session()).accessToken)
    assert.deepEqual(await auth.getAccessToken({ minTtlS: 0 }), first)

    // Another process refreshes: the refresh token this process saw is now rotated away.
    const other = await runCli(['token', '--force-refresh'], env)
    assert.equal(other.code, 0, other.stderr)
    const seenByOther = await auth.getAccessToken({ minTtlS: 0 })
    assert.equal(seenByOther.access_token, other.stdout.trim(), 'the changed file was re-read')

    // A refresh from this process must use the rotated refresh token (re-read under the lock),
    // or the provider's reuse detection would revoke the whole session.
    const grants = refreshGrants()
    const errors = provider.stats.refreshErrors
    const refreshed = await auth.getAccessToken({ forceRefresh: true })
    assert.notEqual(refreshed.access_token, seenByOther.access_token)
    assert.equal(refreshGrants(), grants + 1)
    assert.equal(provider.stats.refreshErrors, errors)
    assert.equal((await runCli(['token', '--force-refresh'], env)).code, 0, 'the session is still alive')
  })
})

describe('faults', () => {
  test('provider stopped: a valid cached token is printed; an expired one → exit 1 and the session file unchanged', async () => {
    const own = await startDemoProvider({ accessTokenTtlS: 600 })
    const { env, sessionFile } = await loggedIn(own)
    await own.close()
    const cached = await runCli(['token'], env)
    assert.equal(cached.code, 0, cached.stderr)
    await expire(sessionFile)
    const before = await readFile(sessionFile)
    const result = await runCli(['token'], env)
    assert.equal(result.code, 1)
    assert.match(lastLine(result.stderr), /could not reach the provider/)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
    assert.deepEqual(await readFile(sessionFile), before)
  })

  test('token endpoint answering 5xx during refresh → exit 1, session unchanged, a later call succeeds', async () => {
    const { env, sessionFile } = await loggedIn()
    await expire(sessionFile)
    const before = await readFile(sessionFile)
    provider.faults.tokenEndpoint = { status: 503, body: 'upstream unavailable', contentType: 'text/plain' }
    try {
      const result = await runCli(['token'], env)
      assert.equal(result.code, 1)
      assert.match(lastLine(result.stderr), /token refresh/)
      assert.deepEqual(await readFile(sessionFile), before)
    } finally {
      delete provider.faults.tokenEndpoint
    }
    assert.equal((await runCli(['token'], env)).code, 0)
  })

  test('a session writer killed with SIGKILL 200 times at random moments always leaves a session that parses', async () => {
    const home = await makeTempHome()
    cleanups.push(home.cleanup)
    const writer = fileURLToPath(new URL('../helpers/session-writer.mjs', import.meta.url))
    const sessionFile = join(home.dir, 'profiles', 'p', 'session.json')
    let checked = 0
    for (let i = 0; i < 200; i++) {
      const child = spawn(process.execPath, [writer, home.dir, 'p'], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise((resolve) => child.stdout.once('data', resolve))
      await sleep(Math.random() * 15)
      child.kill('SIGKILL')
      await new Promise((resolve) => child.on('close', resolve))
      const parsed = JSON.parse(await readFile(sessionFile, 'utf8'))
      assert.match(parsed.accessToken, /^access-\d+-x+$/)
      checked++
    }
    assert.equal(checked, 200)
  })

  test('a lock left by a killed process is recovered', async () => {
    const { env, home, sessionFile } = await loggedIn()
    await expire(sessionFile)
    const holder = spawn(process.execPath, [fileURLToPath(new URL('../helpers/lock-holder.mjs', import.meta.url)), home, 'default'], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise((resolve) => holder.stdout.once('data', resolve))
    holder.kill('SIGKILL')
    await new Promise((resolve) => holder.on('close', resolve))
    const started = Date.now()
    const result = await runCli(['token'], env)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(Date.now() - started < 5000)
  })

  test('a login while other processes refresh the same profile leaves a sound session', async () => {
    const { env, session } = await loggedIn()
    const port = await findFreePortRange(3)
    const refreshing = Array.from({ length: 5 }, () => runCli(['token', '--force-refresh'], env))
    const login = runMain(['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port)], env, { username: alice.username, password: alice.password })
    const results = await Promise.all([login, ...refreshing])
    assert.equal(results[0].code, 0, results[0].stderr)
    for (const r of results.slice(1)) assert.equal(r.code, 0, r.stderr)
    const final = await session()
    const token = await runCli(['token', '--force-refresh'], env)
    assert.equal(token.code, 0, token.stderr)
    assert.equal((await provider.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)
    assert.ok(final.accessToken)
  })
})
