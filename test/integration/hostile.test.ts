/**
 * The attacker's view (issue 10, PRODUCT.md "Security requirements" and "Hostile surroundings"): a
 * scripted provider that answers what a malicious or broken one would, pre-made directories and
 * symlinks, a BROWSER that records what it was given. Each test asserts the one clear line, the
 * exit code, and that nothing leaked or was lost. Runs the built CLI (npm run build first).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cleanEnv, lastLine, makeTempHome, runCli, type CliResult } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { CLIENT_ID, json, startHostileProvider, type HostileProvider } from '../helpers/hostile-provider.ts'
import { CliLogin } from '../../src/index.ts'

const RECORDING_BROWSER = fileURLToPath(new URL('../helpers/recording-browser.mjs', import.meta.url))
// C0 controls but \n, DEL and C1 controls: none may reach the terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/
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
