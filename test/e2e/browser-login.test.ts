/**
 * End to end: the built `cli-login` binary, the embedded oidc-provider, and real headless Chromium.
 * The test reads the authorization URL from the CLI's stderr (the contract) and drives Chromium there.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider as startDemoProvider, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange, occupyPorts } from '../helpers/ports.ts'

const [alice, bob] = DEMO_USERS

let provider: DemoProvider
let browser: Browser
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startDemoProvider()
  browser = await launchChromium()
})

after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await browser?.close()
  await provider?.close()
})

async function setup() {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(5)
  const env = cleanEnv(home.dir)
  const loginArgs = ['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--no-browser']
  return { home: home.dir, sessionsDir: join(home.dir, 'cli-login'), port, env, loginArgs }
}

/** Sends one raw HTTP request to the loopback server (so the Host header can be anything). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function portIsFree(port: number): Promise<boolean> {
  try {
    const free = await occupyPorts([port])
    await free()
    return true
  } catch {
    return false
  }
}

/** Ctrl-C: the login must end within 2 s, exit 130, and say so in its last line. */
async function interruptAndExpectCancelled(cli: ReturnType<typeof startCli>): Promise<void> {
  const started = Date.now()
  cli.child.kill('SIGINT')
  const result = await cli.result
  assert.equal(result.code, 130)
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
  assert.match(lastLine(result.stderr), /login cancelled/)
}

/** Every file under `dir` (none when it does not exist; a `dir` that is not a directory is an error). */
async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name))
}

/** The session files stored under the sessions directory, any profile. */
async function storedSessions(sessionsDir: string): Promise<string[]> {
  return (await allFiles(sessionsDir)).filter((file) => file.endsWith('session.json'))
}

describe('browser login', () => {
  test('happy path: login → token the provider accepts → status --json → logout → token exits 4', async () => {
    const { env, loginArgs, sessionsDir } = await setup()
    const cli = startCli(loginArgs, env)
    const url = await cli.url
    const page = await loginInChromium(browser, url, { username: alice.username, password: alice.password })
    assert.equal(page.status, 200)
    assert.match(page.text, /close this (window|tab)/i)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    assert.equal(login.stdout, '')

    const token = await runCli(['token'], env)
    assert.equal(token.code, 0, token.stderr)
    const accessToken = token.stdout.trim()
    assert.equal(token.stdout, `${accessToken}\n`)
    const identity = await provider.verifyAccessToken(accessToken)
    assert.equal(identity?.sub, alice.sub)

    const status = await runCli(['status', '--json'], env)
    assert.equal(status.code, 0, status.stderr)
    const json = JSON.parse(status.stdout)
    assert.deepEqual(
      Object.keys(json).sort(),
      ['audience', 'claims', 'email', 'expires_at', 'has_refresh_token', 'issuer', 'jkt', 'name', 'profile', 'resource', 'scope', 'storage', 'subject', 'token_type'].sort(),
    )
    assert.equal(json.token_type, 'Bearer')
    assert.equal(json.jkt, null)
    assert.equal(json.profile, 'default')
    assert.equal(json.storage, 'file')
    // The verified ID token's claims, as the provider put them there.
    assert.equal(json.claims.sub, alice.sub)
    assert.equal(json.claims.iss, provider.issuer)
    assert.equal(json.claims.name, alice.name)
    assert.equal(json.subject, alice.sub)
    assert.equal(json.email, alice.email)
    assert.equal(json.has_refresh_token, true)
    assert.equal(json.resource, null, 'no resource was asked for')
    assert.ok(Number.isInteger(json.expires_at) && json.expires_at > Date.now() / 1000)

    // Storage modes: every directory 0700, every file 0600.
    for (const dir of [sessionsDir, join(sessionsDir, 'profiles'), join(sessionsDir, 'profiles', 'default')]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir)
    }
    for (const file of await allFiles(sessionsDir)) assert.equal((await stat(file)).mode & 0o777, 0o600, file)

    const session = JSON.parse(await readFile(join(sessionsDir, 'profiles', 'default', 'session.json'), 'utf8'))
    const revocations = provider.stats.revocations
    const logout = await runCli(['logout'], env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.match(logout.stderr, /revoked/)
    assert.equal(provider.stats.revocations, revocations + 1)

    const after = await runCli(['token'], env)
    assert.equal(after.code, 4)
    assert.equal(after.stdout, '')
    assert.match(lastLine(after.stderr), /not logged in.*cli-login login/)
    for (const file of await allFiles(sessionsDir)) {
      const text = await readFile(file, 'utf8')
      for (const secret of [accessToken, session.refreshToken, session.idToken]) assert.ok(!text.includes(secret), `${file} still holds a token`)
    }
    const again = await runCli(['logout'], env)
    assert.equal(again.code, 0)
    assert.match(again.stderr, /Not logged in/)
  })

  test('port fallback: the first three ports taken → the fourth is used', async () => {
    const { env, loginArgs, port } = await setup()
    const free = await occupyPorts([port, port + 1, port + 2])
    try {
      const cli = startCli(loginArgs, env)
      const url = new URL(await cli.url)
      assert.equal(url.searchParams.get('redirect_uri'), `http://127.0.0.1:${port + 3}/callback`)
      await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
      assert.equal((await cli.result).code, 0)
    } finally {
      await free()
    }
  })

  test('all ports taken → exit 1 naming the range', async () => {
    const { env, loginArgs, port } = await setup()
    const free = await occupyPorts([port, port + 1, port + 2])
    try {
      const result = await runCli([...loginArgs, '--port-attempts', '3'], env)
      assert.equal(result.code, 1)
      assert.match(lastLine(result.stderr), new RegExp(`ports ${port}-${port + 2} on 127.0.0.1 are all in use`))
      assert.doesNotMatch(result.stderr, /\bat .*\.js:\d+/)
    } finally {
      await free()
    }
  })

  test('timeout: nobody answers → exit 1, one line, port closed', async () => {
    const { env, loginArgs, port, sessionsDir } = await setup()
    const started = Date.now()
    const result = await runCli([...loginArgs, '--timeout', '1'], env)
    assert.equal(result.code, 1)
    assert.ok(Date.now() - started < 8000)
    assert.match(lastLine(result.stderr), /no answer from the browser after 1 s/)
    assert.ok(await portIsFree(port))
    assert.deepEqual(await storedSessions(sessionsDir), [])
  })

  test('denied consent → exit 1 with the provider error; nothing stored', async () => {
    const { env, loginArgs, sessionsDir } = await setup()
    const cli = startCli(loginArgs, env)
    const page = await loginInChromium(browser, await cli.url, { username: alice.username, password: alice.password, action: 'deny' })
    assert.match(page.text, /access_denied/)
    const result = await cli.result
    assert.equal(result.code, 1)
    assert.match(lastLine(result.stderr), /refused the login: access_denied/)
    assert.deepEqual(await storedSessions(sessionsDir), [])
  })

  test('a callback with the wrong state (code or error) is answered 400 and ignored; the login then succeeds', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli(loginArgs, env)
    const url = new URL(await cli.url)
    const redirect = new URL(url.searchParams.get('redirect_uri')!)
    const wrongCode = await rawGet(Number(redirect.port), `${redirect.pathname}?code=stolen&state=not-the-state`, { host: redirect.host })
    assert.equal(wrongCode.status, 400)
    const wrongError = await rawGet(Number(redirect.port), `${redirect.pathname}?error=access_denied&state=nope`, { host: redirect.host })
    assert.equal(wrongError.status, 400)
    const page = await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
    assert.equal(page.status, 200)
    assert.equal((await cli.result).code, 0)
  })

  test('an unrelated path is 404 (another method 405), a foreign Host 400, and neither disturbs the login', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli(loginArgs, env)
    const url = new URL(await cli.url)
    const redirect = new URL(url.searchParams.get('redirect_uri')!)
    const port = Number(redirect.port)
    assert.equal((await rawGet(port, '/favicon.ico', { host: redirect.host })).status, 404)
    assert.equal((await rawGet(port, '/other?code=x', { host: redirect.host })).status, 404)
    assert.equal((await rawGet(port, redirect.pathname, { host: redirect.host }, 'POST')).status, 405)
    const rebinding = await rawGet(port, `${redirect.pathname}?code=x&state=${url.searchParams.get('state')}`, { host: `evil.example:${port}` })
    assert.equal(rebinding.status, 400)
    const page = await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
    assert.equal(page.status, 200)
    assert.equal((await cli.result).code, 0)
  })

  test('the error description is shown escaped, under a CSP without scripts', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli(loginArgs, env)
    const url = new URL(await cli.url)
    const callback = new URL(url.searchParams.get('redirect_uri')!)
    callback.searchParams.set('error', 'access_denied')
    callback.searchParams.set('error_description', '<script>document.title="pwned"</script><img src=x onerror="document.title=1">')
    callback.searchParams.set('state', url.searchParams.get('state')!)
    callback.searchParams.set('iss', provider.issuer)
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const response = await page.goto(callback.href)
      const csp = response?.headers()['content-security-policy'] ?? ''
      assert.match(csp, /default-src 'none'/)
      assert.doesNotMatch(csp, /script-src [^;]*(\*|http|'unsafe-inline')/)
      assert.equal(await page.locator('script, img[src=x]').count(), 0)
      assert.match(await page.locator('body').innerText(), /<script>document\.title="pwned"<\/script>/)
      assert.notEqual(await page.title(), 'pwned')
    } finally {
      await context.close()
    }
    const result = await cli.result
    assert.equal(result.code, 1)
    assert.match(lastLine(result.stderr), /access_denied/)
  })

  test('the loopback server listens on 127.0.0.1 only', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli(loginArgs, env)
    const redirect = new URL(new URL(await cli.url).searchParams.get('redirect_uri')!)
    const port = Number(redirect.port)
    const outside = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal && i.family === 'IPv4')
    for (const address of outside) {
      await assert.rejects(
        new Promise((resolve, reject) => request({ host: address!.address, port, path: '/', timeout: 2000 }, resolve).on('error', reject).on('timeout', () => reject(new Error('timeout'))).end()),
        `reachable on ${address!.address}`,
      )
    }
    assert.equal((await rawGet(port, '/nothing', { host: redirect.host })).status, 404)
    cli.child.kill('SIGINT')
    await cli.result
  })

  test('PKCE S256 with a fresh state and challenge per attempt', async () => {
    const { env, loginArgs } = await setup()
    const seen: URL[] = []
    for (let i = 0; i < 2; i++) {
      const cli = startCli(loginArgs, env)
      const url = new URL(await cli.url)
      seen.push(url)
      await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
      assert.equal((await cli.result).code, 0)
    }
    for (const url of seen) {
      assert.equal(url.searchParams.get('response_type'), 'code')
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256')
      assert.equal(url.searchParams.get('client_id'), DEMO_CLIENT_ID)
      assert.ok(url.searchParams.get('state')!.length >= 43, '≥ 256 bits of state')
      assert.match(url.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/)
    }
    assert.notEqual(seen[0].searchParams.get('state'), seen[1].searchParams.get('state'))
    assert.notEqual(seen[0].searchParams.get('code_challenge'), seen[1].searchParams.get('code_challenge'))
    const requests = provider.stats.authorizationRequests.filter((q) => seen.some((u) => u.searchParams.get('state') === q.get('state')))
    assert.equal(requests.length, 2)
    for (const q of requests) assert.equal(q.get('code_challenge_method'), 'S256')
  })

  test('a wrong iss in the authorization response is answered 400, its code is never redeemed, exit 1', async () => {
    const { env, loginArgs, sessionsDir } = await setup()
    const codeGrantsBefore = provider.stats.grants.authorization_code ?? 0
    const tokenRequestsBefore = provider.stats.tokenRequests
    provider.faults.authorizationResponseIss = 'https://attacker.example/'
    try {
      const cli = startCli(loginArgs, env)
      const page = await loginInChromium(browser, await cli.url, { username: alice.username, password: alice.password })
      assert.equal(page.status, 400)
      const result = await cli.result
      assert.equal(result.code, 1)
      assert.match(lastLine(result.stderr), /not valid.*iss/)
    } finally {
      delete provider.faults.authorizationResponseIss
    }
    assert.equal(provider.stats.grants.authorization_code ?? 0, codeGrantsBefore)
    assert.equal(provider.stats.tokenRequests, tokenRequestsBefore)
    assert.deepEqual(await storedSessions(sessionsDir), [])
  })

  for (const [name, fault] of [
    ['HTTP 500', { status: 500, body: '{"error":"server_error","error_description":"database down"}', contentType: 'application/json' }],
    ['not JSON', { status: 200, body: '<html>proxy login page</html>', contentType: 'text/html' }],
  ] as const) {
    test(`token endpoint answering ${name} → exit 1, one line, nothing stored`, async () => {
      const { env, loginArgs, sessionsDir } = await setup()
      provider.faults.tokenEndpoint = { ...fault }
      try {
        const cli = startCli(loginArgs, env)
        const page = await loginInChromium(browser, await cli.url, { username: alice.username, password: alice.password })
        assert.ok(page.status >= 400)
        const result = await cli.result
        assert.equal(result.code, 1)
        assert.match(lastLine(result.stderr), /^cli-login: .*(code exchange)/)
        assert.doesNotMatch(result.stderr, /\n\s+at /)
      } finally {
        delete provider.faults.tokenEndpoint
      }
      assert.deepEqual(await storedSessions(sessionsDir), [])
    })
  }

  test('Ctrl-C during the login → exits promptly with 130 and the port is free', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli(loginArgs, env)
    const redirect = new URL(new URL(await cli.url).searchParams.get('redirect_uri')!)
    // An idle keep-alive connection, as browsers open, must not hold the process.
    const keepAlive = request({ host: '127.0.0.1', port: Number(redirect.port), path: '/favicon.ico', headers: { host: redirect.host, connection: 'keep-alive' } })
    keepAlive.on('error', () => {})
    keepAlive.end()
    await interruptAndExpectCancelled(cli)
    assert.ok(await portIsFree(Number(redirect.port)))
  })

  test('Ctrl-C while the provider is not answering (discovery) → exits promptly with 130', async () => {
    const { env } = await setup()
    const { createServer } = await import('node:net')
    const silent = createServer(() => {}) // accepts connections, never answers
    await new Promise<void>((resolve) => silent.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const address = silent.address()
    try {
      const cli = startCli(['login', '--issuer', `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`, '--client-id', 'x', '--no-browser'], env)
      await new Promise((resolve) => setTimeout(resolve, 700))
      await interruptAndExpectCancelled(cli)
    } finally {
      silent.close()
    }
  })

  test('two profiles hold two users', async () => {
    const { env, loginArgs } = await setup()
    for (const [profile, user] of [['a', alice], ['b', bob]] as const) {
      const cli = startCli([...loginArgs, '--profile', profile], env)
      await loginInChromium(browser, await cli.url, { username: user.username, password: user.password })
      assert.equal((await cli.result).code, 0)
    }
    const a = JSON.parse((await runCli(['status', '--json', '--profile', 'a'], env)).stdout)
    const b = JSON.parse((await runCli(['status', '--json', '--profile', 'b'], env)).stdout)
    assert.equal(a.subject, alice.sub)
    assert.equal(b.subject, bob.sub)
    const tokenB = (await runCli(['token', '--profile', 'b'], env)).stdout.trim()
    assert.equal((await provider.verifyAccessToken(tokenB))?.sub, bob.sub)
    const none = await runCli(['status'], env)
    assert.equal(none.code, 4)
    assert.match(none.stderr, /Not logged in/)
    assert.equal((await runCli(['logout', '--all'], env)).code, 0)
    assert.equal((await runCli(['status', '--profile', 'a'], env)).code, 4)
    assert.equal((await runCli(['status', '--profile', 'b'], env)).code, 4)
  })
})

describe('demo', () => {
  test('cli-login demo logs in against the embedded provider and prints the status', async () => {
    const { env, port } = await setup()
    const cli = startCli(['demo', '--no-browser', '--port', String(port)], env)
    await loginInChromium(browser, await cli.url, { username: alice.username, password: alice.password })
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, new RegExp(`${alice.username}.*${alice.password}`))
    assert.match(result.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+\/? as/)
    const status = JSON.parse((await runCli(['status', '--json', '--profile', 'demo'], env)).stdout)
    assert.equal(status.subject, alice.sub)
  })
})
