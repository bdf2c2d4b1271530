/**
 * The attacker's view (issue 10, PRODUCT.md "Security requirements" and "Hostile surroundings"): a
 * scripted provider that answers what a malicious or broken one would, pre-made directories and
 * symlinks, a BROWSER that records what it was given. Each test asserts the one clear line, the
 * exit code, and that nothing leaked or was lost. Runs the built CLI (npm run build first).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, chown, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli, type CliResult } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { CLIENT_ID, json, startHostileProvider, type HostileProvider } from '../helpers/hostile-provider.ts'
import { CliLogin } from '../../src/index.ts'

const RECORDING_BROWSER = fileURLToPath(new URL('../helpers/recording-browser.mjs', import.meta.url))
// C0 controls but \n, DEL and C1 controls: none may reach the terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/
// Bidirectional marks, overrides and isolates, zero-width and other invisible characters: none may reach the terminal raw.
const BIDI_OR_INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\u3164]/
const IS_ROOT = process.getuid?.() === 0
const NOBODY = 65534

const cleanups: Array<() => Promise<void>> = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

async function provider(): Promise<HostileProvider> {
  const p = await startHostileProvider()
  cleanups.push(() => p.close())
  return p
}

interface Setup {
  env: NodeJS.ProcessEnv
  home: string
  profileDir: string
  sessionFile: string
  recordFile: string
  loginArgs: string[]
  recorded(): Promise<{ argv: string[]; env: NodeJS.ProcessEnv; hops: Array<{ url: string; status: number; location: string | null }> } | undefined>
}

async function setup(idp: HostileProvider, browserMode = 'follow', extraEnv: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const recordFile = join(temp.dir, 'browser.json')
  const home = join(temp.dir, 'cli-login')
  const env = cleanEnv(temp.dir, { BROWSER: `${process.execPath} ${RECORDING_BROWSER} ${recordFile} ${browserMode}`, ...extraEnv })
  const port = await findFreePortRange(3)
  const profileDir = join(home, 'profiles', 'default')
  return {
    env,
    home,
    profileDir,
    sessionFile: join(profileDir, 'session.json'),
    recordFile,
    loginArgs: ['login', '--issuer', idp.issuer, '--client-id', CLIENT_ID, '--port', String(port), '--port-attempts', '3', '--timeout', '10'],
    async recorded() {
      // The browser is started detached: give it a moment to write its record.
      for (let i = 0; i < 100 && !existsSync(recordFile); i++) await new Promise((resolve) => setTimeout(resolve, 20))
      return existsSync(recordFile) ? JSON.parse(await readFile(recordFile, 'utf8')) : undefined
    },
  }
}

/** One clear line last on stderr, no stack trace, no control character anywhere. */
function assertOneLine(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit ${result.code}\nstderr:\n${result.stderr}`)
  assert.match(lastLine(result.stderr), pattern)
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at .+:\d+:\d+/)
  assertNoControl(result)
}

function assertNoControl(result: CliResult): void {
  assert.doesNotMatch(result.stdout, CONTROL, `control character on stdout: ${JSON.stringify(result.stdout)}`)
  assert.doesNotMatch(result.stderr, CONTROL, `control character on stderr: ${JSON.stringify(result.stderr)}`)
}

/** A session as a login stores it, written straight to disk (dirs 0700, file 0600). */
async function writeSession(s: Setup, fields: Record<string, unknown> = {}): Promise<string> {
  await mkdir(s.profileDir, { recursive: true, mode: 0o700 })
  const text = `${JSON.stringify({
    version: 1,
    issuer: 'https://idp.invalid/',
    clientId: CLIENT_ID,
    requestedScope: 'openid offline_access',
    tokenType: 'Bearer',
    accessToken: 'fresh-access-token',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    refreshToken: 'refresh-token',
    user: { sub: 'user-1' },
    createdAt: 1_700_000_000,
    ...fields,
  }, null, 2)}\n`
  await writeFile(s.sessionFile, text, { mode: 0o600 })
  return text
}

async function loggedIn(idp: HostileProvider, extraEnv: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const s = await setup(idp, 'follow', extraEnv)
  const login = await runCli(s.loginArgs, s.env)
  assert.equal(login.code, 0, login.stderr)
  return s
}

const ESCAPES = '\u001b[2J\u001b]0;pwned\u0007\u009b31m'

describe('strings from the provider or the callback never reach the terminal raw', () => {
  test('error_description in the callback: escaped in the one line, exit 1', async () => {
    const idp = await provider()
    const s = await setup(idp, 'error', { HOSTILE_DESCRIPTION: `denied ${ESCAPES} here` })
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /refused the login: access_denied \(denied \\u001b\[2J\\u001b\]0;pwned\\u0007\\u009b31m here\)/)
    assert.equal(existsSync(s.sessionFile), false)
  })

  test('error and error_description from the token endpoint: escaped, exit 1, no session', async () => {
    const idp = await provider()
    idp.handlers['/token'] = (_req, res) => json(res, 400, { error: `invalid_grant${ESCAPES}`, error_description: `bad\r\nInjected: line ${ESCAPES}` })
    const s = await setup(idp)
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /invalid_grant\\u001b\[2J.*bad Injected: line \\u001b/)
    assert.equal(existsSync(s.sessionFile), false)
  })

  test('ID token name, email and the granted scope: escaped by login and status; status --json stays JSON with the exact claims', async () => {
    const idp = await provider()
    const name = `Mallory${ESCAPES}`
    const email = 'm@example.com\r\nInjected: line'
    idp.claims = { name, email }
    idp.tokenAnswer = { scope: `openid offline_access ${ESCAPES}` }
    const s = await setup(idp)
    const login = await runCli(s.loginArgs, s.env)
    assert.equal(login.code, 0, login.stderr)
    assertNoControl(login)
    assert.match(login.stderr, /as Mallory\\u001b\[2J/)
    const status = await runCli(['status'], s.env)
    assert.equal(status.code, 0, status.stderr)
    assertNoControl(status)
    assert.match(status.stdout, /<m@example\.com\\u000d\\u000aInjected: line>/)
    assert.match(status.stdout, /^Scope: openid offline_access \\u001b\[2J/m)
    const statusJson = await runCli(['status', '--json'], s.env)
    assertNoControl(statusJson)
    const parsed = JSON.parse(statusJson.stdout)
    assert.equal(parsed.name, name)
    assert.equal(parsed.email, email)
    assert.equal(parsed.claims.name, name)
  })

  test('text that reorders or hides itself (bidi overrides, isolates, zero-width and invisible characters): escaped by login, status, status --json and in error lines', async () => {
    const idp = await provider()
    const name = 'Admin\u202etxt.exe\u2066\u2069'
    const email = 'a\u200b@exam\u2060ple.com\ufeff'
    idp.claims = { name, email }
    idp.tokenAnswer = { scope: 'openid offline_access \u061cread\u3164' }
    const s = await setup(idp)
    const login = await runCli(s.loginArgs, s.env)
    assert.equal(login.code, 0, login.stderr)
    assert.match(login.stderr, /as Admin\\u202etxt\.exe\\u2066\\u2069 <a\\u200b@exam\\u2060ple\.com\\ufeff>/)
    const status = await runCli(['status'], s.env)
    assert.match(status.stdout, /^Scope: openid offline_access \\u061cread\\u3164$/m)
    const statusJson = await runCli(['status', '--json'], s.env)
    for (const result of [login, status, statusJson]) assert.doesNotMatch(result.stdout + result.stderr, BIDI_OR_INVISIBLE)
    assert.match(statusJson.stdout, /"name":"Admin\\u202etxt\.exe\\u2066\\u2069"/, 'JSON keeps them as \\u escapes')
    assert.equal(JSON.parse(statusJson.stdout).name, name)
    assert.equal(JSON.parse(statusJson.stdout).claims.email, email)
    idp.handlers['/token'] = (_req, res) => json(res, 400, { error: 'invalid_grant', error_description: 'go to \u202emoc.live\u202c now' })
    const refused = await runCli((await setup(idp)).loginArgs, s.env)
    assert.doesNotMatch(refused.stderr, BIDI_OR_INVISIBLE)
    assert.match(refused.stderr, /go to \\u202emoc\.live\\u202c now/)
  })

  test('device flow: verification URI and user code escaped; a verification URI that is not https is not opened', async () => {
    const idp = await provider()
    idp.handlers['/device'] = (_req, res) =>
      json(res, 200, { device_code: 'dc', user_code: `AB${ESCAPES}CD`, verification_uri: `http://evil.example/device${ESCAPES}`, expires_in: 600, interval: 1 })
    idp.handlers['/token'] = (_req, res) => json(res, 400, { error: 'authorization_pending' })
    const s = await setup(idp, 'record')
    const result = await runCli([...s.loginArgs.filter((a) => a !== '10'), '2', '--device'], s.env)
    assertOneLine(result, 1, /device login was not approved after 2 s/)
    assert.match(result.stderr, /enter the code AB\\u001b\[2J\\u001b\]0;pwned\\u0007\\u009b31mCD/)
    assert.match(result.stderr, /^http:\/\/evil\.example\/device\\u001b\[2J/m)
    assert.equal(await s.recorded(), undefined, 'the browser was started with a plain-http verification URI')
  })
})

describe('ID tokens are verified', () => {
  test('a signature by a key not in the JWKS → exit 1, one line, nothing stored', async () => {
    const idp = await provider()
    idp.signWithForeignKey = true
    const s = await setup(idp)
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /code exchange/)
    assert.equal(existsSync(s.sessionFile), false)
  })

  test('on refresh too: an ID token signed by a foreign key → exit 1, the session left byte for byte', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    assert.equal((await runCli(['token', '--force-refresh'], s.env)).code, 0, 'a well-signed refresh works')
    const before = await readFile(s.sessionFile, 'utf8')
    idp.signWithForeignKey = true
    const result = await runCli(['token', '--force-refresh'], s.env)
    assertOneLine(result, 1, /token refresh/)
    assert.equal(result.stdout, '')
    assert.equal(await readFile(s.sessionFile, 'utf8'), before)
  })

  for (const [label, claims, why] of [
    ['another subject', { sub: 'user-2' }, /another account \(subject "user-2", not "user-1"\)/],
    ['another issuer', { iss: 'https://evil.example/' }, /another account \(an ID token from another issuer\)/],
    ['another audience', { aud: 'someone-else' }, /another account \(an ID token for another audience\)/],
  ] as const) {
    test(`a refreshed ID token for ${label} ends the session: exit 4, one line, the session deleted`, async () => {
      const idp = await provider()
      const s = await loggedIn(idp)
      idp.claims = { ...claims }
      const result = await runCli(['token', '--force-refresh'], s.env)
      assertOneLine(result, 4, why)
      assert.match(lastLine(result.stderr), /so the session was ended: run cli-login login$/)
      assert.equal(result.stdout, '')
      assert.equal(existsSync(s.sessionFile), false)
    })
  }

  test('an ID token the JWKS could not verify at its refresh is verified at the next one: another subject there ends the session', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    // As if the key set cached at login were older than a day: this refresh fetches it.
    const cacheFile = join(s.profileDir, 'provider.json')
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'))
    delete cache.jwks
    await writeFile(cacheFile, JSON.stringify(cache))
    idp.handlers['/jwks'] = (_req, res) => {
      delete idp.handlers['/jwks']
      json(res, 503, {})
    }
    idp.claims = { sub: 'user-2' }
    const unverified = await runCli(['token', '--force-refresh'], s.env)
    assert.equal(unverified.code, 0, unverified.stderr)
    assert.equal(unverified.stdout.trim(), 'access-token-1', 'the new tokens are in use')
    const kept = JSON.parse(await readFile(s.sessionFile, 'utf8'))
    assert.equal(kept.user.sub, 'user-1', 'the previous claims stay')
    assert.equal(typeof kept.unverifiedIdToken, 'string')
    idp.claims = {}
    const next = await runCli(['token', '--force-refresh'], s.env)
    assertOneLine(next, 4, /another account \(subject "user-2", not "user-1"\)/)
    assert.equal(existsSync(s.sessionFile), false)
  })

  test('every openid authorization request carries a fresh nonce; an ID token with another nonce → exit 1, nothing stored', async () => {
    const idp = await provider()
    const good = await setup(idp)
    assert.equal((await runCli(good.loginArgs, good.env)).code, 0)
    const nonces = () => idp.requests.filter((r) => r.path === '/authorize').map((r) => r.query.get('nonce'))
    assert.ok((nonces()[0] ?? '').length >= 43, `nonce: ${nonces()[0]}`)
    idp.claims = { nonce: 'not-the-one-sent' }
    const s = await setup(idp)
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /code exchange/)
    assert.notEqual(nonces()[1], nonces()[0])
    assert.equal(existsSync(s.sessionFile), false)
  })
})

describe('plain http only for loopback, endpoint by endpoint', () => {
  test('a discovery document naming another issuer → exit 1 before the browser opens', async () => {
    const idp = await provider()
    idp.metadata = { issuer: 'http://127.0.0.1:1/another-issuer' }
    const s = await setup(idp, 'record')
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /discovery at .* failed/)
    assert.equal(await s.recorded(), undefined, 'the browser was opened')
    assert.deepEqual(idp.requests.map((r) => r.path), ['/.well-known/openid-configuration'])
  })


  for (const field of ['token_endpoint', 'authorization_endpoint', 'jwks_uri', 'revocation_endpoint']) {
    test(`a loopback issuer sending ${field} over http to another host → exit 1 before the browser opens`, async () => {
      const idp = await provider()
      idp.metadata = { [field]: 'http://evil.invalid/endpoint' }
      const s = await setup(idp, 'record', { CLI_LOGIN_CLIENT_SECRET: 'client-secret-value' })
      const result = await runCli(s.loginArgs, s.env)
      assertOneLine(result, 1, new RegExp(`${field} to "http://evil\\.invalid/endpoint", which is neither https nor http on this machine's loopback`))
      assert.equal(await s.recorded(), undefined, 'the browser was opened')
      assert.deepEqual(idp.requests.map((r) => r.path), ['/.well-known/openid-configuration'])
    })
  }

  test('an https issuer listing http endpoints → one clear line before the browser opens (library)', async () => {
    const temp = await makeTempHome()
    cleanups.push(temp.cleanup)
    const issuer = 'https://idp.example/'
    const opened: string[] = []
    const auth = new CliLogin({
      appName: 'acme',
      home: temp.dir,
      issuer,
      clientId: CLIENT_ID,
      timeoutS: 5,
      openBrowser: async (url) => (opened.push(url), { opened: true, command: 'test' }),
      fetch: async (input) => {
        const url = String(input instanceof Request ? input.url : input)
        assert.equal(url, 'https://idp.example/.well-known/openid-configuration', `request to ${url}`)
        return Response.json({ issuer, authorization_endpoint: `${issuer}authorize`, token_endpoint: 'http://idp.example/token', response_types_supported: ['code'] })
      },
    })
    await assert.rejects(auth.login(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'PROVIDER_ERROR')
      assert.match(error.message, /token_endpoint to "http:\/\/idp\.example\/token", which is neither https nor http/)
      return true
    })
    assert.deepEqual(opened, [])
  })
})

describe('tokens that are not visible ASCII are never printed; every visible ASCII token is', () => {
  test('a token with ":" and other characters outside RFC 6750 b64token: printed by token (fast path and full CLI)', async () => {
    const idp = await provider()
    const accessToken = 'v1:abc.def!$*(x)=='
    idp.tokenAnswer = { access_token: accessToken }
    const s = await loggedIn(idp)
    // The fresh token is printed by the fast path; --force-refresh goes through the full CLI.
    for (const args of [['token'], ['token', '--format', 'header'], ['token', '--force-refresh']]) {
      const result = await runCli(args, s.env)
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout.trim(), args.includes('header') ? `Authorization: Bearer ${accessToken}` : accessToken)
    }
  })

  for (const [label, accessToken, problem] of [
    ['CR/LF (a second header line)', 'abc\r\nX-Injected: 1', /line break/],
    ['an escape sequence', 'abc\u001b[2Jdef', /control characters/],
    ['a space', 'abc def', /spaces/],
    ['a non-ASCII letter', 'caf\u00e9', /other than visible ASCII/],
  ] as const) {
    test(`${label}: token (fast path and --format header) → exit 1 naming the problem, nothing on stdout`, async () => {
      const idp = await provider()
      const s = await setup(idp)
      await writeSession(s, { accessToken })
      for (const args of [['token'], ['token', '--format', 'header'], ['token', '--format', 'json']]) {
        const result = await runCli(args, s.env)
        assertOneLine(result, 1, problem)
        assert.equal(result.stdout, '')
      }
    })
  }
})

describe('hostile surroundings', () => {
  test('a home directory owned by another user → exit 1 naming it, for token (fast path too), status and login', { skip: !IS_ROOT && 'needs root to chown' }, async () => {
    const idp = await provider()
    const s = await setup(idp)
    await writeSession(s)
    await chown(s.home, NOBODY, NOBODY)
    for (const args of [['token'], ['status'], s.loginArgs]) {
      const result = await runCli(args, s.env)
      assertOneLine(result, 1, new RegExp(`${s.home} belongs to another user \\(uid ${NOBODY}\\)`))
      assert.equal(result.stdout, '')
    }
    assert.equal(await s.recorded(), undefined)
  })

  test('a profile directory symlinked to a directory of another user → exit 1 naming the link and its target', { skip: !IS_ROOT && 'needs root to chown' }, async () => {
    const idp = await provider()
    const s = await setup(idp)
    const elsewhere = join(s.home, '..', 'elsewhere')
    await mkdir(elsewhere, { mode: 0o700 })
    await mkdir(join(s.home, 'profiles'), { recursive: true, mode: 0o700 })
    await symlink(elsewhere, s.profileDir)
    await writeSession(s)
    await chown(elsewhere, NOBODY, NOBODY)
    const result = await runCli(['token'], s.env)
    assertOneLine(result, 1, new RegExp(`${s.profileDir} \\(a symbolic link to ${elsewhere}\\) belongs to another user`))
    assert.equal(result.stdout, '')
  })

  test('a home directory of ours that others can write → set back to 0700 with a warning; the token is served', async () => {
    const idp = await provider()
    const s = await setup(idp)
    await writeSession(s)
    await chmod(s.home, 0o777)
    const result = await runCli(['token'], s.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, 'fresh-access-token\n')
    assert.match(result.stderr, new RegExp(`warning: ${s.home} could be written by its group and other users; set it back to 0700`))
    assert.equal((await stat(s.home)).mode & 0o777, 0o700)
  })

  test('library: the fixes are told through onWarning, in the tool\'s words', async () => {
    const idp = await provider()
    const s = await setup(idp)
    await writeSession(s)
    await chmod(s.profileDir, 0o770)
    await chmod(s.sessionFile, 0o640)
    const warnings: string[] = []
    const auth = new CliLogin({ appName: 'acme', home: s.home, issuer: 'https://idp.invalid/', clientId: CLIENT_ID, onWarning: (line) => warnings.push(line) })
    assert.equal((await auth.getAccessToken()).access_token, 'fresh-access-token')
    assert.deepEqual(warnings, [
      `${s.profileDir} could be written by its group; set it back to 0700`,
      `${s.sessionFile} could be read by other users (mode 0640); set it back to 0600`,
    ])
    assert.equal((await stat(s.profileDir)).mode & 0o777, 0o700)
    assert.equal((await stat(s.sessionFile)).mode & 0o777, 0o600)
  })

  test('a session file others can read → set back to 0600 with a warning (not served silently by the fast path)', async () => {
    const idp = await provider()
    const s = await setup(idp)
    await writeSession(s)
    await chmod(s.sessionFile, 0o644)
    const result = await runCli(['token'], s.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, 'fresh-access-token\n')
    assert.match(result.stderr, /warning: .*session\.json could be read by other users \(mode 0644\); set it back to 0600/)
    assert.equal((await stat(s.sessionFile)).mode & 0o777, 0o600)
  })

  for (const [label, plant] of [
    ['a dangling symlink', (path: string) => symlink('/nonexistent/lock-target', path)],
    ['a directory', (path: string) => mkdir(path)],
    ['a fifo', async (path: string) => void execFileSync('mkfifo', [path])],
  ] as const) {
    test(`${label} at the lock's path: token --force-refresh ends at once with one line; the session is left byte for byte`, async () => {
      const idp = await provider()
      const s = await setup(idp)
      const before = await writeSession(s, { issuer: idp.issuer })
      const lockPath = join(s.profileDir, 'session.lock')
      await plant(lockPath)
      const started = Date.now()
      const result = await runCli(['token', '--force-refresh'], s.env, 20_000)
      assertOneLine(result, 1, new RegExp(`${lockPath} is not a lock file .*: remove it, then try again`))
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
      assert.equal(await readFile(s.sessionFile, 'utf8'), before)
      assert.ok(await lstat(lockPath), 'what was planted is left alone')
      assert.equal(idp.requests.filter((r) => r.path === '/token').length, 0)
    })
  }
})

describe('files that are not what they seem', () => {
  test("symlinks planted at the profile's files are never followed: status reports the link, a login replaces it; the targets are neither written, truncated nor chmod-ed", async () => {
    const idp = await provider()
    const s = await setup(idp)
    await mkdir(s.profileDir, { recursive: true, mode: 0o700 })
    const outside = join(s.home, '..', 'precious')
    await mkdir(outside)
    const names = ['session.json', 'settings.json', 'provider.json']
    for (const name of names) {
      await writeFile(join(outside, name), `precious ${name}\n`, { mode: 0o644 })
      await chmod(join(outside, name), 0o644)
      await symlink(join(outside, name), join(s.profileDir, name))
    }
    const status = await runCli(['status'], s.env)
    assertOneLine(status, 1, /session\.json is not a valid session \(a symbolic link, and its target can be read by other users; nothing is changed through a link\): remove the link, or log in again to replace it$/)
    const token = await runCli(['token'], s.env)
    assertOneLine(token, 1, /a symbolic link, and its target can be read by other users/)
    const login = await runCli(s.loginArgs, s.env)
    assert.equal(login.code, 0, login.stderr)
    for (const name of names) {
      assert.equal(await readFile(join(outside, name), 'utf8'), `precious ${name}\n`, `${name}: target unchanged`)
      assert.equal((await stat(join(outside, name))).mode & 0o777, 0o644, `${name}: target not chmod-ed`)
      assert.ok((await lstat(join(s.profileDir, name))).isFile(), `${name}: the link was replaced by a file of ours`)
    }
  })

  for (const [label, plant, kind] of [
    ['a named pipe (fifo)', async (path: string) => execFileSync('mkfifo', ['-m', '600', path]), /not a regular file: a named pipe/],
    ['a directory', async (path: string) => mkdir(path, { mode: 0o700 }), /not a regular file: a directory/],
    ['a symlink to a device', async (path: string) => symlink('/dev/zero', path), /not a regular file: a symbolic link to a device/],
  ] as const) {
    test(`${label} at the session's path: status, token (fast path and full CLI) and logout report it at once (exit 1)`, async () => {
      const idp = await provider()
      const s = await setup(idp)
      await mkdir(s.profileDir, { recursive: true, mode: 0o700 })
      await plant(s.sessionFile)
      for (const args of [['status'], ['status', '--json'], ['token'], ['token', '--force-refresh'], ['logout']]) {
        const started = Date.now()
        const result = await runCli(args, s.env, 10_000)
        assertOneLine(result, 1, new RegExp(`${s.sessionFile} is not a valid session \\(${kind.source}\\): remove it, then try again$`))
        assert.equal(result.stdout, '')
        assert.ok(Date.now() - started < 5000, `${args.join(' ')}: at once`)
      }
      assert.ok(existsSync(s.sessionFile), 'logout left what is not a session of ours')
    })
  }

  for (const [field, value, named] of [
    ['user', { sub: 'user-1', name: { first: 'Mallory' } }, '"user.name" is not a string'],
    ['user', { sub: 'user-1', email: 42 }, '"user.email" is not a string'],
    ['user', { sub: ['user-1'] }, '"user.sub" is not a string'],
    ['user', ['user-1'], '"user" is missing'],
    ['expiresAt', 1e20, '"expiresAt" is not a time a date can hold'],
    ['expiresAt', -1, '"expiresAt" is not a time a date can hold'],
    ['idTokenExpiresAt', 1e308, '"idTokenExpiresAt" is not a time a date can hold'],
    ['createdAt', 'yesterday', '"createdAt" is not a number'],
    ['targets', { 'audience=x': { tokenType: 'Bearer', accessToken: 't', scope: 7 } }, '"targets["audience=x"].scope" is not a string'],
    ['targets', { 'audience=x': { tokenType: 'Bearer', accessToken: 't', expiresAt: 1e15 } }, '"targets["audience=x"].expiresAt" is not a time a date can hold'],
    ['registration', { redirectUris: ['http://127.0.0.1:4242/callback'], hasSecret: 'yes' }, '"registration.hasSecret" is not true or false'],
    ['dpopKey', { kty: 'RSA', n: 'x', e: 'AQAB', d: 'y' }, '"dpopKey" is not an ES256 private key'],
    ['dpopKey', { kty: 'EC', crv: 'P-256', d: 'y' }, '"dpopKey" is not an ES256 private key'],
  ] as const) {
    test(`a session whose ${field} is ${JSON.stringify(value)}: unreadable, naming the file and ${named} (status, token), never [object Object]`, async () => {
      const idp = await provider()
      const s = await setup(idp)
      await writeSession(s, { [field]: value })
      for (const args of [['status'], ['status', '--json'], ['token'], ['token', '--format', 'k8s']]) {
        const result = await runCli(args, s.env)
        assertOneLine(result, 1, new RegExp(`${s.sessionFile} is not a valid session \\(${named.replace(/[[\]().]/g, '\\$&')}\\)`))
        assert.doesNotMatch(result.stdout + result.stderr, /\[object Object\]/)
        assert.equal(result.stdout, '')
      }
    })
  }
})

describe('numbers from the provider', () => {
  for (const expiresIn of [1e20, 1e308]) {
    test(`expires_in ${expiresIn}: clamped to a year; status, token --format json and k8s print real times (RFC 3339)`, async () => {
      const idp = await provider()
      idp.tokenAnswer = { expires_in: expiresIn }
      const s = await loggedIn(idp)
      const yearFromNow = Math.floor(Date.now() / 1000) + 365 * 24 * 3600
      const session = JSON.parse(await readFile(s.sessionFile, 'utf8'))
      assert.ok(Number.isInteger(session.expiresAt) && Math.abs(session.expiresAt - yearFromNow) < 60, `stored ${session.expiresAt}`)
      const status = await runCli(['status'], s.env)
      assert.equal(status.code, 0, status.stderr)
      assert.match(status.stdout, /^Access token expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \d+ h\)$/m)
      const json = JSON.parse((await runCli(['token', '--format', 'json'], s.env)).stdout)
      assert.equal(json.expires_at, session.expiresAt)
      const k8s = JSON.parse((await runCli(['token', '--format', 'k8s'], s.env)).stdout)
      assert.match(k8s.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    })
  }

  for (const [label, expiresIn, problem] of [
    ['a word', 'soon', /with an "expires_in" that is not a number/],
    ['negative', -5, /with an "expires_in" that is not a non-negative number/],
  ] as const) {
    test(`expires_in ${label}: the login fails with one line naming it, before the browser is told all is well; nothing stored`, async () => {
      const idp = await provider()
      idp.tokenAnswer = { expires_in: expiresIn }
      const s = await setup(idp)
      const result = await runCli(s.loginArgs, s.env)
      assertOneLine(result, 1, problem)
      assert.equal(existsSync(s.sessionFile), false)
      const hops = (await s.recorded())?.hops ?? []
      assert.notEqual(hops[hops.length - 1]?.status, 200, 'the success page was not sent')
    })
  }

  test('--format k8s never prints a timestamp that is not RFC 3339: the last second of year 9999 prints, a stored expiry beyond it is an unreadable session', async () => {
    const idp = await provider()
    const s = await setup(idp)
    await writeSession(s, { expiresAt: 253_402_300_799 })
    const last = await runCli(['token', '--format', 'k8s'], s.env)
    assert.equal(last.code, 0, last.stderr)
    assert.equal(JSON.parse(last.stdout).status.expirationTimestamp, '9999-12-31T23:59:59Z')
    await writeSession(s, { expiresAt: 300_000_000_000 })
    const beyond = await runCli(['token', '--format', 'k8s'], s.env)
    assertOneLine(beyond, 1, /"expiresAt" is not a time a date can hold/)
    assert.equal(beyond.stdout, '')
  })
})

describe('clocks', () => {
  const now = () => Math.floor(Date.now() / 1000)
  for (const [label, claims] of [
    ['ahead by 4 min (an ID token not valid before then)', () => ({ iat: now() + 240, nbf: now() + 240, exp: now() + 240 + 3600 })],
    ['behind by 4 min (a short-lived ID token already expired by this clock)', () => ({ iat: now() - 240, exp: now() - 240 + 60 })],
  ] as const) {
    test(`the provider's clock ${label}: tolerated, the login succeeds`, async () => {
      const idp = await provider()
      idp.claims = claims()
      const s = await setup(idp)
      const result = await runCli(s.loginArgs, s.env)
      assert.equal(result.code, 0, result.stderr)
    })
  }
  for (const [label, claims, said] of [
    ['ahead by 10 min', () => ({ iat: now() + 600, nbf: now() + 600, exp: now() + 600 + 3600 }), /the clocks differ: the provider's clock is ahead of this machine's by about 10 min/],
    ['behind by 10 min', () => ({ iat: now() - 600, exp: now() - 600 + 60 }), /the clocks differ: the provider's clock is behind this machine's by about 10 min/],
  ] as const) {
    test(`the provider's clock ${label}: one line naming the clock difference, exit 1, nothing stored`, async () => {
      const idp = await provider()
      idp.claims = claims()
      const s = await setup(idp)
      const result = await runCli(s.loginArgs, s.env)
      assertOneLine(result, 1, said)
      assert.match(lastLine(result.stderr), /set this machine's clock right/)
      assert.equal(existsSync(s.sessionFile), false)
    })
  }
})

describe('the environment', () => {
  test('a relative or empty XDG_CONFIG_HOME is ignored (~/.config); nothing is written under the current directory', async () => {
    const idp = await provider()
    for (const xdg of ['relative/config', '']) {
      const s = await setup(idp, 'follow', { CLI_LOGIN_HOME: undefined, XDG_CONFIG_HOME: xdg })
      const cwd = join(s.home, '..', 'cwd')
      await mkdir(cwd, { recursive: true })
      const login = await runCli(s.loginArgs, s.env, 30_000, cwd)
      assert.equal(login.code, 0, login.stderr)
      assert.deepEqual(await readdir(cwd), [], 'nothing under the current directory')
      assert.ok(existsSync(join(s.env.HOME!, '.config', 'cli-login', 'profiles', 'default', 'session.json')))
    }
  })

  for (const home of ['', 'relative/home']) {
    test(`HOME ${home ? 'relative' : 'empty'} (and no --home): one line naming HOME, exit 1, for token (fast path too), status and login`, async () => {
      const idp = await provider()
      const s = await setup(idp, 'follow', { CLI_LOGIN_HOME: undefined, HOME: home })
      const cwd = join(s.recordFile, '..', 'cwd')
      await mkdir(cwd, { recursive: true })
      for (const args of [['token'], ['status'], s.loginArgs]) {
        const result = await runCli(args, s.env, 30_000, cwd)
        assertOneLine(result, 1, new RegExp(`the environment variable HOME ${home ? 'is a relative path' : 'is empty'}.*set HOME to an absolute path$`))
      }
      assert.deepEqual(await readdir(cwd), [])
      assert.equal(await s.recorded(), undefined, 'no browser was opened')
    })
  }
})

describe('who logged in', () => {
  test('an ID token without name and email: they come from userinfo at login, are kept, and status shows them without asking again (also after a refresh)', async () => {
    const idp = await provider()
    idp.metadata = { userinfo_endpoint: `${idp.issuer}/userinfo` }
    idp.handlers['/userinfo'] = (_req, res) => json(res, 200, { sub: 'user-1', name: 'Uma Userinfo', email: 'uma@example.com' })
    const userinfoRequests = () => idp.requests.filter((r) => r.path === '/userinfo').length
    const s = await setup(idp)
    const login = await runCli(s.loginArgs, s.env)
    assert.equal(login.code, 0, login.stderr)
    assert.match(login.stderr, /^Logged in to \S+ as Uma Userinfo <uma@example\.com> \(profile "default"\)$/m)
    assert.equal(userinfoRequests(), 1)
    assert.match((await runCli(['status'], s.env)).stdout, /as Uma Userinfo <uma@example\.com>/)
    const json1 = JSON.parse((await runCli(['status', '--json'], s.env)).stdout)
    assert.deepEqual([json1.subject, json1.name, json1.email], ['user-1', 'Uma Userinfo', 'uma@example.com'])
    assert.equal((await runCli(['token', '--force-refresh'], s.env)).code, 0)
    assert.match((await runCli(['status'], s.env)).stdout, /as Uma Userinfo <uma@example\.com>/, 'kept through a refresh whose ID token lacks them too')
    assert.equal(userinfoRequests(), 1, 'status and refresh use what was kept')
  })

  test("userinfo for another subject than the ID token's is not believed", async () => {
    const idp = await provider()
    idp.metadata = { userinfo_endpoint: `${idp.issuer}/userinfo` }
    idp.handlers['/userinfo'] = (_req, res) => json(res, 200, { sub: 'someone-else', name: 'Eve', email: 'eve@example.com' })
    const s = await setup(idp)
    const login = await runCli(s.loginArgs, s.env)
    assert.equal(login.code, 0, login.stderr)
    assert.match(login.stderr, /as user-1 \(profile "default"\)/)
    assert.doesNotMatch(login.stderr, /Eve/)
  })
})

describe('provider answers are bounded', () => {
  test('a discovery document over 1 MiB → exit 1, one line', async () => {
    const idp = await provider()
    idp.handlers['/.well-known/openid-configuration'] = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"issuer":"${idp.issuer}","padding":"${'x'.repeat(2 * 1024 * 1024)}"}`)
    }
    const s = await setup(idp, 'record')
    const result = await runCli(s.loginArgs, s.env)
    assertOneLine(result, 1, /larger than 1 MiB/)
    assert.equal(await s.recorded(), undefined)
  })

  for (const [label, times] of [
    ['an expires_in of 25 days', { expires_in: 25 * 24 * 3600, interval: 1 }],
    ['absurd expires_in and interval', { expires_in: 1e300, interval: 1e300 }],
  ] as const) {
    test(`device flow with ${label}: --timeout wins, no timer warning, no "delay out of range"`, async () => {
      const idp = await provider()
      idp.handlers['/device'] = (_req, res) => json(res, 200, { device_code: 'dc', user_code: 'ABCD', verification_uri: `${idp.issuer}/activate`, ...times })
      idp.handlers['/token'] = (_req, res) => json(res, 400, { error: 'authorization_pending' })
      const s = await setup(idp, 'record')
      const started = Date.now()
      const result = await runCli([...s.loginArgs.filter((a) => a !== '10'), '3', '--device'], s.env)
      assertOneLine(result, 1, /device login was not approved after 3 s/)
      assert.ok(Date.now() - started >= 2_900, `ended after ${Date.now() - started} ms`)
      assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning|out of range/)
    })
  }
})

describe('child processes get no secret', () => {
  test('the browser inherits no CLI_LOGIN_CLIENT_SECRET; a browser that never comes back → the timeout line hints at the client id and callback URLs', async () => {
    const idp = await provider()
    const secret = 'the-client-secret-value'
    const s = await setup(idp, 'record', { CLI_LOGIN_CLIENT_SECRET: secret })
    const result = await runCli([...s.loginArgs.filter((a) => a !== '10'), '2'], s.env)
    assertOneLine(result, 1, /no answer from the browser after 2 s \(if the provider showed an error page, the client id may be wrong or the callback URL not registered .*cli-login callback-urls/)
    const record = await s.recorded()
    assert.ok(record, 'the browser was started')
    assert.ok(!JSON.stringify(record).includes(secret), 'the secret reached the browser')
    assert.equal(record.env.CLI_LOGIN_CLIENT_SECRET, undefined)
  })

  test('logout --browser hands the browser a one-shot loopback URL that redirects to the end-session URL with id_token_hint', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    const session = JSON.parse(await readFile(s.sessionFile, 'utf8'))
    const logout = await runCli(['logout', '--browser'], s.env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(existsSync(s.sessionFile), false)
    assert.match(logout.stderr, /Opened the browser to end the provider's session/)
    let record = await s.recorded()
    // The browser records once when started and again once it has followed the redirect.
    for (let i = 0; i < 100 && record?.hops.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      record = await s.recorded()
    }
    assert.ok(record)
    const given = record.argv.at(-1)!
    assert.match(given, /^http:\/\/127\.0\.0\.1:\d+\/end-session\/[\w-]{43}$/)
    assert.ok(!JSON.stringify(record.argv).includes(session.idToken), 'the ID token is in the browser\'s argv')
    const [hop] = record.hops
    assert.equal(hop.status, 302)
    const endSession = new URL(hop.location!)
    assert.equal(`${endSession.origin}${endSession.pathname}`, `${idp.issuer}/logout`)
    assert.equal(endSession.searchParams.get('id_token_hint'), session.idToken)
    assert.equal((await fetch(given).catch(() => undefined))?.status ?? 'closed', 'closed', 'the one-shot URL still answers')
    assert.ok(!logout.stderr.includes(session.idToken))
  })

  test('logout --browser with a browser that never loads the page: says what it waits for and how to skip it, gives up 10 s after the browser started', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    const env = { ...s.env, BROWSER: s.env.BROWSER!.replace(/ follow$/, ' record') }
    const started = Date.now()
    const logout = await runCli(['logout', '--browser'], env, 30_000)
    const took = Date.now() - started
    assert.equal(logout.code, 0, logout.stderr)
    assert.match(logout.stderr, /^Waiting up to 10 s for the browser to load the provider's sign-out page \(Ctrl-C skips this: you are logged out here already\)\.\.\.$/m)
    assert.match(lastLine(logout.stderr), /browser session was not ended \(the browser did not load the page within 10 s\)/)
    assert.ok(took >= 9_500 && took < 20_000, `took ${took} ms`)
    assert.equal(existsSync(s.sessionFile), false)
  })

  test('logout --browser, Ctrl-C while it waits for the browser: the local logout is done, exit 130', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    const env = { ...s.env, BROWSER: s.env.BROWSER!.replace(/ follow$/, ' record') }
    const running = startCli(['logout', '--browser'], env, 30_000)
    for (let i = 0; i < 1000 && !running.stderrLines.some((line) => line.startsWith('Waiting up to 10 s')); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    const started = Date.now()
    running.child.kill('SIGINT')
    const result = await running.result
    assert.equal(result.code, 130, result.stderr)
    assert.ok(Date.now() - started < 3000, 'at once')
    assert.match(lastLine(result.stderr), /^Stopped waiting for the browser \(Ctrl-C\): you are logged out here/)
    assert.match(result.stderr, /Logged out of profile "default"/)
    assert.equal(existsSync(s.sessionFile), false)
  })
})

describe('refresh rejected or failing', () => {
  for (const [label, status, body, challenge] of [
    ['400 with an empty body', 400, ''],
    ['401 with an HTML body', 401, '<html>nope</html>'],
    ['400 invalid_grant', 400, '{"error":"invalid_grant"}'],
    ['400 with JSON that is not an OAuth error', 400, '{"message":"refresh token reused"}'],
    ['401 with a WWW-Authenticate challenge', 401, '', 'Basic realm="token"'],
    ['401 with a Bearer challenge and an OAuth body', 401, '{"error":"invalid_client"}', 'Bearer error="invalid_token"'],
  ] as Array<[string, number, string, string?]>) {
    test(`${label} → the session ends: token exits 4, status says so`, async () => {
      const idp = await provider()
      const s = await loggedIn(idp)
      idp.handlers['/token'] = (_req, res) =>
        res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/html', ...(challenge ? { 'www-authenticate': challenge } : {}) }).end(body)
      const result = await runCli(['token', '--force-refresh'], s.env)
      assertOneLine(result, 4, /session expired: run cli-login login/)
      assert.equal(result.stdout, '')
      assert.equal((await runCli(['status'], s.env)).code, 4)
    })
  }

  for (const [label, answer] of [
    ['500', (res: import('node:http').ServerResponse) => res.writeHead(500).end('oops')],
    ['429', (res: import('node:http').ServerResponse) => res.writeHead(429, { 'retry-after': '1' }).end()],
    ['a dropped connection', (res: import('node:http').ServerResponse) => res.socket?.destroy()],
  ] as const) {
    test(`${label} → exit 1, the session file byte for byte`, async () => {
      const idp = await provider()
      const s = await loggedIn(idp)
      const before = await readFile(s.sessionFile, 'utf8')
      idp.handlers['/token'] = (_req, res) => answer(res)
      const result = await runCli(['token', '--force-refresh'], s.env)
      assertOneLine(result, 1, /./)
      assert.equal(result.stdout, '')
      assert.equal(await readFile(s.sessionFile, 'utf8'), before)
    })
  }
})

describe('logout when the provider does not revoke', () => {
  test('revocation refused with 401 (a public client): session deleted, exit 0, says plainly the refresh token stays valid and why', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    idp.handlers['/revoke'] = (_req, res) => res.writeHead(401).end()
    const result = await runCli(['logout'], s.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(existsSync(s.sessionFile), false)
    assert.match(result.stderr, /The refresh token was not revoked: the provider refused to revoke it \(HTTP 401; .*\); it stays valid at the provider until it expires\./)
    assert.doesNotMatch(result.stderr, /try again/i)
  })

  test('no revocation endpoint: session deleted, exit 0, says so', async () => {
    const idp = await provider()
    const s = await loggedIn(idp)
    idp.metadata = { revocation_endpoint: undefined }
    const result = await runCli(['logout'], s.env)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(existsSync(s.sessionFile), false)
    assert.match(result.stderr, /The refresh token was not revoked: the provider has no revocation endpoint; it stays valid at the provider until it expires\./)
  })
})
