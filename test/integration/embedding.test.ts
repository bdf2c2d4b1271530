/**
 * Issue 8, point by point: the library as an embedding tool (`acme`) uses it, against the test
 * kit's real provider with its browser double.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { access, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import {
  approveDeviceOverHttp,
  createBrowserDouble,
  DEMO_AUDIENCE,
  DEMO_CLIENT_ID,
  DEMO_CONFIDENTIAL_CLIENT_ID,
  DEMO_SECOND_AUDIENCE,
  DEMO_USERS,
  startTestProvider,
  type TestProvider,
} from 'clilogin-testkit'
import {
  CliLogin,
  ErrorCode,
  LoginCancelledError,
  LoginRequiredError,
  ProviderError,
  SessionMismatchError,
  UsageError,
  type CliLoginOptions,
  type Session,
} from '../../src/index.ts'
import { makeTempHome } from '../helpers/cli.ts'
import { findFreePortRange, occupyPorts } from '../helpers/ports.ts'
import { runMain } from '../helpers/in-process.ts'

const [alice, bob] = DEMO_USERS
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function tempDir(): Promise<string> {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  return home.dir
}

/** acme's CliLogin against the test provider, signing in through the browser double (alice unless told). */
async function acme(options: Partial<CliLoginOptions> = {}, user = alice) {
  const browser = createBrowserDouble({ username: user.username, password: user.password })
  const auth = new CliLogin({
    appName: 'acme',
    issuer: provider.issuer,
    clientId: DEMO_CLIENT_ID,
    audience: DEMO_AUDIENCE,
    port: await findFreePortRange(3),
    portAttempts: 3,
    openBrowser: browser.openBrowser,
    ...options,
  })
  return { auth, browser }
}

function readSession(home: string, profile = 'default'): Promise<Session> {
  return readFile(join(home, 'profiles', profile, 'session.json'), 'utf8').then((text) => JSON.parse(text) as Session)
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

/** Runs fn with these environment variables set on the process (what a user's shell would have), then restores them. */
async function withProcessEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]))
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
}

/** Captures what the process prints while fn runs. */
async function printedDuring(fn: () => Promise<unknown>): Promise<string> {
  let printed = ''
  const writes = { out: process.stdout.write, err: process.stderr.write }
  const capture = ((chunk: string | Uint8Array) => ((printed += String(chunk)), true)) as typeof process.stdout.write
  process.stdout.write = capture
  process.stderr.write = capture
  try {
    await fn()
  } finally {
    process.stdout.write = writes.out
    process.stderr.write = writes.err
  }
  return printed
}

describe("app identity: acme's storage, acme's words", () => {
  test('storage under $XDG_CONFIG_HOME/acme; CLI_LOGIN_* variables are ignored; pages show the displayName; nothing printed', async () => {
    const dir = await tempDir()
    const xdg = join(dir, 'xdg')
    const cliLoginHome = join(dir, 'cli-login-home')
    const port = await findFreePortRange(3)
    const trap = await findFreePortRange(1)
    await withProcessEnv(
      {
        XDG_CONFIG_HOME: xdg,
        CLI_LOGIN_HOME: cliLoginHome,
        CLI_LOGIN_PROFILE: 'from-env',
        CLI_LOGIN_ISSUER: 'http://127.0.0.1:1/',
        CLI_LOGIN_CLIENT_ID: 'from-env',
        CLI_LOGIN_PORT: String(trap),
        CLI_LOGIN_SCOPE: 'openid',
        CLI_LOGIN_DEVICE: '1',
        CLI_LOGIN_DEBUG: '1',
      },
      async () => {
        // No issuer given: the library does not take CLI_LOGIN_ISSUER; its words name its own option.
        const bare = new CliLogin({ appName: 'acme', clientId: DEMO_CLIENT_ID })
        await assert.rejects(bare.login(), (e: unknown) => {
          assert.ok(e instanceof UsageError)
          assert.equal(e.option, 'issuer')
          assert.doesNotMatch(e.message, /CLI_LOGIN|--/)
          return true
        })

        const { auth, browser } = await acme({ displayName: 'Acme CLI', port })
        let status
        const printed = await printedDuring(async () => {
          status = await auth.login()
        })
        assert.equal(printed, '', 'the library printed nothing, CLI_LOGIN_DEBUG or not')
        assert.equal(status!.profile, 'default')
        assert.equal(new URL(new URL(browser.urls[0]).searchParams.get('redirect_uri')!).port, String(port))
        assert.equal(provider.stats.authorizationRequests.at(-1)?.get('scope'), 'openid profile email offline_access')
        const [page] = await browser.settled()
        assert.equal(page.status, 200)
        assert.match(page.body, /You are logged in to Acme CLI/)
        assert.match(page.body, /<title>Acme CLI: logged in<\/title>/)
        assert.doesNotMatch(page.body, /cli-login/)

        assert.equal((await readSession(join(xdg, 'acme'))).user.sub, alice.sub)
        assert.deepEqual(await readdir(xdg), ['acme'])
        assert.equal(await exists(cliLoginHome), false, 'CLI_LOGIN_HOME untouched')
      },
    )
  })

  test('every message tells the user to run acme login, or the loginCommand given', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    await assert.rejects(auth.getAccessToken(), (e: unknown) => {
      assert.ok(e instanceof LoginRequiredError)
      assert.equal(e.message, 'not logged in: run acme login')
      return true
    })
    const custom = new CliLogin({ appName: 'acme', loginCommand: 'acme auth login', profile: 'work', home, issuer: provider.issuer, clientId: DEMO_CLIENT_ID })
    await assert.rejects(custom.getAccessToken(), { message: 'not logged in (profile "work"): run acme auth login' })
    await assert.rejects(custom.userinfo(), { message: 'not logged in (profile "work"): run acme auth login' })
  })

  test('a failed login shows the displayName on the failure page', async () => {
    const browser = createBrowserDouble({ username: alice.username, password: alice.password, action: 'deny' })
    const { auth } = await acme({ home: await tempDir(), displayName: 'Acme CLI', openBrowser: browser.openBrowser })
    await assert.rejects(auth.login(), { code: ErrorCode.AUTHORIZATION_FAILED })
    const [page] = await browser.settled()
    assert.match(page.body, /Acme CLI login failed/)
    assert.match(page.body, /access_denied/)
  })
})

describe('two tools on one machine', () => {
  test("acme and mytool never see each other's sessions; one's logout (and cli-login logout --all) leaves the other logged in", async () => {
    const xdg = join(await tempDir(), 'xdg')
    const system = { env: { XDG_CONFIG_HOME: xdg } }
    const { auth: acmeAuth } = await acme({ system }, alice)
    const { auth: mytoolAuth } = await acme({ appName: 'mytool', system }, bob)
    await acmeAuth.login()
    await mytoolAuth.login()
    assert.deepEqual((await readdir(xdg)).sort(), ['acme', 'mytool'])
    assert.equal((await acmeAuth.status())?.subject, alice.sub)
    assert.equal((await mytoolAuth.status())?.subject, bob.sub)
    const mytoolToken = (await mytoolAuth.getAccessToken()).access_token
    assert.equal((await provider.verifyAccessToken(mytoolToken))?.sub, bob.sub)

    // The standalone CLI is one more tool: its logout --all is about its own sessions only.
    const cli = await runMain(['logout', '--all'], { XDG_CONFIG_HOME: xdg, PATH: process.env.PATH })
    assert.equal(cli.code, 0, cli.stderr)
    assert.equal((await acmeAuth.status())?.subject, alice.sub)

    await acmeAuth.logout()
    assert.equal(await acmeAuth.status(), undefined)
    assert.deepEqual(await acmeAuth.listProfiles(), [])
    assert.deepEqual(await mytoolAuth.listProfiles(), ['default'])
    assert.equal((await mytoolAuth.getAccessToken()).access_token, mytoolToken)
    await assert.rejects(acmeAuth.getAccessToken(), { message: 'not logged in: run acme login' })
  })
})

describe('nothing remembered behind the caller\'s back', () => {
  test('after a device login, login() without `device` runs the browser flow; no settings.json without rememberSettings', async () => {
    const home = await tempDir()
    const codes: string[] = []
    const device = await acme({
      home,
      device: true,
      onDeviceCode: ({ verificationUriComplete, userCode }) => {
        codes.push(userCode)
        void approveDeviceOverHttp(verificationUriComplete!, { username: alice.username, password: alice.password }).catch(() => {})
      },
    })
    await device.auth.login()
    assert.equal(codes.length, 1)
    assert.deepEqual(device.browser.urls.map((url) => new URL(url).pathname), ['/activate'], 'the device page was opened')
    assert.equal(await exists(join(home, 'profiles', 'default', 'settings.json')), false)

    const deviceRequests = provider.stats.requests['POST /oauth/device/code']
    const again = await acme({ home, onDeviceCode: () => codes.push('again') })
    await again.auth.login()
    assert.equal(codes.length, 1, 'no second device login')
    assert.equal(provider.stats.requests['POST /oauth/device/code'], deviceRequests)
    assert.equal(new URL(again.browser.urls[0]).pathname, '/authorize')
    assert.equal(await exists(join(home, 'profiles', 'default', 'settings.json')), false)

    // With rememberSettings (what the standalone CLI uses), the profile does remember.
    const remembering = await acme({ home, rememberSettings: true })
    await remembering.auth.login()
    const settings = JSON.parse(await readFile(join(home, 'profiles', 'default', 'settings.json'), 'utf8'))
    assert.equal(settings.clientId, DEMO_CLIENT_ID)
    assert.equal(settings.device, false)
  })
})

describe('a session is used only for what it was made for', () => {
  let home: string
  before(async () => {
    home = await tempDir()
    await (await acme({ home })).auth.login()
  })

  for (const [mismatch, options] of [
    ['issuer', { issuer: 'http://127.0.0.1:9/' }],
    ['client', { clientId: DEMO_CONFIDENTIAL_CLIENT_ID }],
    ['audience', { audience: DEMO_SECOND_AUDIENCE }],
    ['audience', { audience: undefined }],
    ['scope', { scope: 'openid profile email offline_access read:me' }],
  ] as const) {
    test(`another ${mismatch} (${JSON.stringify(options)}) → SessionMismatchError, no request`, async () => {
      const requests = provider.stats.tokenRequests
      const { auth } = await acme({ home, ...options })
      await assert.rejects(auth.getAccessToken(), (e: unknown) => {
        assert.ok(e instanceof SessionMismatchError)
        assert.ok(e instanceof LoginRequiredError, 'a LoginRequiredError: the CLI exits 4')
        assert.equal(e.code, ErrorCode.SESSION_MISMATCH)
        assert.equal(e.mismatch, mismatch)
        assert.match(e.message, /^the stored session is for .+: run acme login$/)
        return true
      })
      assert.equal(provider.stats.tokenRequests, requests)
    })
  }

  test('the same settings, or a scope the session covers, use it', async () => {
    const stored = await readSession(home)
    assert.equal((await (await acme({ home })).auth.getAccessToken()).access_token, stored.accessToken)
    assert.equal((await (await acme({ home, scope: 'openid email' })).auth.getAccessToken()).access_token, stored.accessToken)
  })
})

describe('other APIs from one login', () => {
  test('a token for DEMO_SECOND_AUDIENCE: its own aud, cached, refreshed on its own, the rotated refresh token stored', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    await auth.login()
    const main = await auth.getAccessToken()
    const before = await readSession(home)
    const refreshes = provider.stats.grants.refresh_token ?? 0

    const billing = await auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE })
    assert.notEqual(billing.access_token, main.access_token)
    assert.deepEqual([decodeJwt(billing.access_token).aud].flat(), [DEMO_SECOND_AUDIENCE])
    assert.equal((await provider.verifyAccessToken(billing.access_token))?.sub, alice.sub)
    assert.equal(provider.stats.grants.refresh_token, refreshes + 1)
    const afterFirst = await readSession(home)
    assert.notEqual(afterFirst.refreshToken, before.refreshToken, 'the refresh token rotated and the new one is stored')
    assert.equal(afterFirst.accessToken, main.access_token, 'the main token is unchanged')
    assert.equal(Object.values(afterFirst.targets ?? {})[0]?.accessToken, billing.access_token)

    // Cached: no request at all.
    const requests = provider.stats.tokenRequests
    assert.deepEqual(await auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE }), billing)
    assert.deepEqual(await auth.getAccessToken(), main)
    assert.equal(provider.stats.tokenRequests, requests)

    // Ten minutes later (the test kit's tokens live 600 s): only the token asked for is refreshed.
    const later = await acme({ home, system: { now: () => Date.now() + 700_000 } })
    const billing2 = await later.auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE })
    assert.notEqual(billing2.access_token, billing.access_token)
    assert.deepEqual([decodeJwt(billing2.access_token).aud].flat(), [DEMO_SECOND_AUDIENCE])
    assert.equal(provider.stats.grants.refresh_token, refreshes + 2)
    const afterSecond = await readSession(home)
    assert.equal(afterSecond.accessToken, main.access_token, 'the main token was not refreshed with it')
    assert.notEqual(afterSecond.refreshToken, afterFirst.refreshToken)
    // Were a used (rotated-out) refresh token kept, the provider's reuse detection would end the session here.
    const refreshErrors = provider.stats.refreshErrors
    const fresh = await auth.getAccessToken({ forceRefresh: true })
    assert.notEqual(fresh.access_token, main.access_token)
    assert.equal(provider.stats.refreshErrors, refreshErrors)
  })

  test('ignoreRefreshAudience (Auth0 without a refresh-token policy): TOKEN_AUDIENCE_MISMATCH, and the session still works', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    await auth.login()
    const before = await readSession(home)
    provider.faults.ignoreRefreshAudience = true
    try {
      await assert.rejects(auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE }), (e: unknown) => {
        assert.ok(e instanceof ProviderError)
        assert.equal(e.code, ErrorCode.TOKEN_AUDIENCE_MISMATCH)
        assert.equal(e.error, 'audience_mismatch')
        assert.ok(e.message.includes(DEMO_SECOND_AUDIENCE) && e.message.includes(DEMO_AUDIENCE), e.message)
        return true
      })
    } finally {
      provider.faults.ignoreRefreshAudience = false
    }
    const after = await readSession(home)
    assert.equal(after.targets, undefined, 'the wrong token is not kept')
    assert.notEqual(after.refreshToken, before.refreshToken, 'the rotated refresh token is kept')
    const refreshErrors = provider.stats.refreshErrors
    const token = await auth.getAccessToken({ forceRefresh: true })
    assert.equal((await provider.verifyAccessToken(token.access_token))?.sub, alice.sub)
    assert.equal(provider.stats.refreshErrors, refreshErrors)
    const billing = await auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE })
    assert.deepEqual([decodeJwt(billing.access_token).aud].flat(), [DEMO_SECOND_AUDIENCE])
  })

  test('scope narrows the token; the main token keeps its scope', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home, scope: 'openid profile email offline_access read:me' })
    await auth.login()
    const main = await auth.getAccessToken()
    assert.match(decodeJwt(main.access_token).scope as string, /\bread:me\b/)
    const narrow = await auth.getAccessToken({ scope: 'openid' })
    assert.notEqual(narrow.access_token, main.access_token)
    const claims = decodeJwt(narrow.access_token)
    assert.deepEqual([claims.aud].flat(), [DEMO_AUDIENCE])
    assert.doesNotMatch(String(claims.scope ?? ''), /read:me/)
    assert.deepEqual(await auth.getAccessToken(), main)
  })

  test("tokenType 'id': the session's ID token, refreshed when it expires; not combinable with another API", async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    await auth.login()
    const stored = await readSession(home)
    const id = await auth.getAccessToken({ tokenType: 'id' })
    assert.equal(id.access_token, stored.idToken)
    const claims = decodeJwt(id.access_token)
    assert.equal(claims.iss, provider.issuer)
    assert.equal(claims.aud, DEMO_CLIENT_ID)
    assert.equal(id.expires_at, claims.exp)

    const refreshes = provider.stats.grants.refresh_token ?? 0
    const later = await acme({ home, system: { now: () => (claims.exp! + 1) * 1000 } })
    const refreshed = await later.auth.getAccessToken({ tokenType: 'id' })
    // (Within the same second the provider may sign the very same ID token again: RS256 is deterministic.)
    assert.equal(provider.stats.grants.refresh_token, refreshes + 1, 'an expired ID token is refreshed')
    assert.equal(decodeJwt(refreshed.access_token).sub, alice.sub)
    const after = await readSession(home)
    assert.equal(after.idToken, refreshed.access_token)
    assert.notEqual(after.refreshToken, stored.refreshToken)

    await assert.rejects(auth.getAccessToken({ tokenType: 'id', audience: DEMO_SECOND_AUDIENCE }), (e: unknown) => e instanceof UsageError && e.option === 'tokenType')
  })
})

describe('what the provider said; hooks; signals', () => {
  test('status().claims are the verified ID token claims; userinfo() is the provider\'s', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    assert.equal(await auth.status(), undefined)
    await auth.login()
    const status = await auth.status()
    assert.equal(status?.storage, 'file')
    assert.equal(status?.claims?.sub, alice.sub)
    assert.equal(status?.claims?.email, alice.email)
    assert.equal(status?.claims?.iss, provider.issuer)
    assert.equal(status?.claims?.aud, DEMO_CLIENT_ID)
    assert.deepEqual(status?.claims, decodeJwt((await readSession(home)).idToken!))

    const requests = provider.stats.requests['GET /userinfo'] ?? 0
    const info = await auth.userinfo()
    assert.equal(provider.stats.requests['GET /userinfo'], requests + 1)
    assert.equal(info.sub, alice.sub)
    assert.equal(info.email, alice.email)
    assert.equal(info.name, alice.name)
  })

  test('onDebug hears what the library does, never a token', async () => {
    const home = await tempDir()
    const lines: string[] = []
    const { auth } = await acme({ home, onDebug: (line) => lines.push(line) })
    await auth.login()
    await auth.getAccessToken()
    await auth.getAccessToken({ forceRefresh: true })
    await auth.getAccessToken({ audience: DEMO_SECOND_AUDIENCE })
    await auth.userinfo()
    const session = await readSession(home)
    await auth.logout()
    assert.ok(lines.some((line) => /^discovery: /.test(line)), lines.join('\n'))
    assert.ok(lines.some((line) => /^token: use/.test(line)), lines.join('\n'))
    assert.ok(lines.some((line) => /^token: refresh for audience=/.test(line)), lines.join('\n'))
    assert.ok(lines.some((line) => /^userinfo: /.test(line)), lines.join('\n'))
    const secrets = [session.accessToken, session.refreshToken!, session.idToken!, ...Object.values(session.targets ?? {}).map((t) => t.accessToken)]
    for (const line of lines) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a token in a debug line: ${line.slice(0, 60)}`)
    }
  })

  test('a signal aborts getAccessToken at once; the refresh already sent still completes and is stored', async () => {
    const home = await tempDir()
    const { auth } = await acme({ home })
    await auth.login()
    const before = await readSession(home)
    provider.faults.tokenEndpointDelayMs = 1500
    const started = Date.now()
    try {
      await assert.rejects(auth.getAccessToken({ forceRefresh: true, signal: AbortSignal.timeout(200) }), (e: unknown) => {
        assert.ok(e instanceof LoginCancelledError, String(e))
        assert.equal(e.code, ErrorCode.LOGIN_CANCELLED)
        return true
      })
    } finally {
      provider.faults.tokenEndpointDelayMs = 0
    }
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`)
    // Had the answer been dropped, the provider's rotation would have made the stored refresh token a reused one.
    for (let i = 0; i < 50 && (await readSession(home)).refreshToken === before.refreshToken; i++) await new Promise((r) => setTimeout(r, 100))
    assert.notEqual((await readSession(home)).refreshToken, before.refreshToken, 'the rotated refresh token was stored')
    const refreshErrors = provider.stats.refreshErrors
    const token = await auth.getAccessToken({ forceRefresh: true })
    assert.equal((await provider.verifyAccessToken(token.access_token))?.sub, alice.sub)
    assert.equal(provider.stats.refreshErrors, refreshErrors)
    // An already aborted signal: not even the cached token.
    await assert.rejects(auth.getAccessToken({ signal: AbortSignal.abort() }), LoginCancelledError)
  })

  test('a signal aborts login() while the browser is open, and frees the port', async () => {
    const port = await findFreePortRange(1)
    const controller = new AbortController()
    const { auth } = await acme({
      home: await tempDir(),
      port,
      portAttempts: 1,
      openBrowser: async () => {
        setTimeout(() => controller.abort(), 100)
        return { opened: true, command: 'a browser nobody uses' }
      },
    })
    const started = Date.now()
    await assert.rejects(auth.login({ signal: controller.signal }), (e: unknown) => e instanceof LoginCancelledError && e.code === ErrorCode.LOGIN_CANCELLED)
    assert.ok(Date.now() - started < 2000)
    const free = await occupyPorts([port])
    await free()
    assert.equal(await auth.status(), undefined)
  })
})
