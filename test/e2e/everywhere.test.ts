/**
 * End to end, wherever a user runs cli-login: the device flow (RFC 8628, slow_down, expiry), over
 * SSH and without a display, with BROWSER set, behind an HTTP proxy (a real tinyproxy), against a
 * provider on https with a private CA, `logout --browser`, `--prompt` and a confidential client.
 * Real processes: the built `cli-login` binary, the embedded oidc-provider, headless Chromium where
 * a browser is needed, and an HTTP "browser" where speed matters more than realism.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import {
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_CONFIDENTIAL_CLIENT_ID,
  DEMO_USERS,
  startTestProvider as startDemoProvider,
  type TestProvider as DemoProvider,
  type TestProviderOptions as DemoProviderOptions,
} from 'clilogin-testkit'
import { approveDeviceInChromium, launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli, type CliResult, type RunningCli } from '../helpers/cli.ts'
import { approveDeviceOverHttp, loginOverHttp } from '../helpers/http-browser.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { startTinyproxy } from '../helpers/tinyproxy.ts'
import { makeTestCa, type TestCa } from '../helpers/tls.ts'

const [alice] = DEMO_USERS
const ALICE = { username: alice.username, password: alice.password }
/** What sshd puts in the environment of a session. */
const SSH_CONNECTION = '192.0.2.10 50522 192.0.2.20 22'

let provider: DemoProvider
let browser: Browser
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  ;[provider, browser] = await Promise.all([startDemoProvider(), launchChromium()])
})

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  await browser?.close()
  await provider?.close()
})

async function setup(extraEnv: NodeJS.ProcessEnv = {}, on: DemoProvider = provider) {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(3)
  const env = cleanEnv(home.dir, extraEnv)
  const loginArgs = ['login', '--issuer', on.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3']
  const sessionsDir = join(home.dir, 'cli-login')
  return { home: home.dir, sessionsDir, sessionFile: join(sessionsDir, 'profiles', 'default', 'session.json'), port, env, loginArgs }
}

/** A provider of the test's own (its faults and settings touch no other test); closed after the file. */
async function ownProvider(options: DemoProviderOptions = {}): Promise<DemoProvider> {
  const own = await startDemoProvider(options)
  cleanups.push(() => own.close())
  return own
}

/** env with extra applied; undefined removes a variable. */
function withEnv(env: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const next = { ...env }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete next[key]
    else next[key] = value
  }
  return next
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name))
}

/** An expected failure: exit 1, the explanation on the last stderr line, no stack trace, nothing on stdout. */
function assertOneLineFailure(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 1, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(lastLine(result.stderr), /^cli-login: /, result.stderr)
  assert.match(lastLine(result.stderr), message)
  assert.doesNotMatch(result.stderr, /\n\s+at .*:\d+/, 'no stack trace')
}

// ---------------------------------------------------------------------------------------------
// Fake browsers: shell scripts that record how they were called (one file per call, written
// atomically) and print noise on stdout and stderr, as real browser launchers do.
// ---------------------------------------------------------------------------------------------

interface Recorder {
  /** Directory whose files are the calls. */
  callsDir: string
  /** Every call so far: [command name, ...arguments]. */
  calls(): Promise<string[][]>
  /** Resolves with the first call whose last argument is an http(s) URL. */
  waitForUrl(timeoutMs?: number): Promise<string[]>
}

async function makeRecorder(dir: string): Promise<Recorder> {
  const callsDir = join(dir, 'calls')
  await mkdir(callsDir, { recursive: true })
  const recorder: Recorder = {
    callsDir,
    async calls() {
      const names = (await readdir(callsDir)).filter((name) => name.endsWith('.call')).sort()
      return Promise.all(names.map(async (name) => (await readFile(join(callsDir, name), 'utf8')).split('\0').slice(0, -1)))
    },
    async waitForUrl(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const call = (await recorder.calls()).find((args) => /^https?:\/\//.test(args.at(-1) ?? ''))
        if (call) return call
        if (Date.now() > deadline) throw new Error(`no browser was started with a URL within ${timeoutMs} ms: ${JSON.stringify(await recorder.calls())}`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
  }
  return recorder
}

function recorderScript(callsDir: string, name: string): string {
  return `#!/bin/sh
f='${callsDir}'/"$(date +%s%N)-$$"
printf '%s\\0' '${name}' "$@" > "$f.tmp" && mv "$f.tmp" "$f.call"
echo "${name}: noise on stdout"
echo "${name}: noise on stderr" >&2
exit 0
`
}

async function writeScript(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text)
  await chmod(`${path}.tmp`, 0o755)
  await rename(`${path}.tmp`, path)
}

/**
 * A directory to put first in PATH with a recording stand-in for every program the platform opener
 * (the `open` package, its xdg-open script) may start on Linux, so any attempt to open a browser is
 * seen and nothing real is opened.
 */
async function fakeOpeners(): Promise<Recorder & { binDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-openers-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const recorder = await makeRecorder(dir)
  const binDir = join(dir, 'bin')
  await mkdir(binDir)
  const programs = [
    'xdg-open', 'xdg-mime', 'x-www-browser', 'www-browser', 'sensible-browser', 'gio', 'gvfs-open', 'gnome-open', 'kde-open',
    'kde-open5', 'kfmclient', 'exo-open', 'enlightenment_open', 'wslview', 'firefox', 'chromium', 'chromium-browser',
    'google-chrome', 'epiphany', 'konqueror', 'links2', 'elinks', 'links', 'lynx', 'w3m', 'run-mailcap', 'mimeopen',
  ]
  for (const program of programs) await writeScript(join(binDir, program), recorderScript(recorder.callsDir, program))
  return { ...recorder, binDir }
}

/** A BROWSER command: a recording script in a directory whose name has a space (BROWSER is split like a shell would). */
async function fakeBrowserCommand(): Promise<Recorder & { command: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-browser-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const recorder = await makeRecorder(dir)
  const script = join(dir, 'my browser')
  await writeScript(script, recorderScript(recorder.callsDir, 'my-browser'))
  return { ...recorder, command: `"${script}" --new-window` }
}

// ---------------------------------------------------------------------------------------------

describe('device flow (RFC 8628)', () => {
  test('approved in Chromium: the codes are on stderr, exit 0, the token works at the provider', async () => {
    const { env } = await setup()
    const cli = startCli(['login', '--device', '--no-browser', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID], env)
    const complete = new URL(await cli.url)
    const userCode = complete.searchParams.get('user_code')
    assert.ok(userCode, `verification_uri_complete carries the user code: ${complete.href}`)
    const verificationUri = `${complete.origin}${complete.pathname}`
    assert.equal(complete.origin, new URL(provider.issuer).origin)

    await approveDeviceInChromium(browser, complete.href, { ...ALICE, userCode })
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, '')
    const others = result.stderr.split('\n').filter((line) => line !== complete.href)
    assert.ok(others.some((line) => line.includes(verificationUri) && !line.includes(`${verificationUri}?`)), `verification_uri on stderr:\n${result.stderr}`)
    assert.ok(others.some((line) => line.includes(userCode)), `user code on stderr:\n${result.stderr}`)

    const token = await runCli(['token'], env)
    assert.equal(token.code, 0, token.stderr)
    assert.equal((await provider.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)
  })

  test('denied → exit 1 access_denied, nothing stored; over SSH no opener is started for the device page either', async () => {
    const openers = await fakeOpeners()
    const { env, sessionsDir } = await setup({ SSH_CONNECTION, DISPLAY: ':99', PATH: `${openers.binDir}:${process.env.PATH}` })
    // No --no-browser: only the SSH rule keeps the opener from being started.
    const cli = startCli(['login', '--device', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID], env)
    const complete = await cli.url
    await approveDeviceOverHttp(complete, { ...ALICE, action: 'deny' })
    const result = await cli.result
    assertOneLineFailure(result, /refused the login: access_denied/)
    assert.deepEqual((await allFiles(sessionsDir)).filter((f) => f.endsWith('session.json')), [])
    assert.deepEqual(await openers.calls(), [], 'no browser was started over SSH')
  })

  test('BROWSER opens verification_uri_complete; its output never reaches stdout; approving it logs in', async () => {
    const fake = await fakeBrowserCommand()
    const { env } = await setup({ BROWSER: fake.command })
    const cli = startCli(['login', '--device', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID], env)
    const complete = await cli.url
    const call = await fake.waitForUrl()
    assert.deepEqual(call, ['my-browser', '--new-window', complete])
    await approveDeviceOverHttp(complete, ALICE)
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, '')
  })

  test('--timeout bounds the polling: nobody approves → exit 1 after about that long, nothing stored', async () => {
    const { env, sessionsDir } = await setup()
    const started = Date.now()
    const result = await runCli(['login', '--device', '--no-browser', '--timeout', '2', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID], env, 20_000)
    const elapsed = Date.now() - started
    assertOneLineFailure(result, /not approved|timed out|after 2 s/)
    assert.ok(elapsed >= 1_900 && elapsed < 8_000, `took ${elapsed} ms`)
    assert.deepEqual((await allFiles(sessionsDir)).filter((f) => f.endsWith('session.json')), [])
  })

  test('slow_down: the next poll comes at least interval + 5 s later, and the login succeeds', async () => {
    const slow = await ownProvider()
    slow.faults.deviceSlowDown = 1
    const { env } = await setup({}, slow)
    const cli = startCli(['login', '--device', '--no-browser', '--issuer', slow.issuer, '--client-id', DEMO_CLIENT_ID], env)
    await approveDeviceOverHttp(await cli.url, ALICE)
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    const polls = slow.stats.deviceTokenPolls
    assert.ok(polls.length >= 2, `polls: ${polls.length}`)
    assert.equal(slow.faults.deviceSlowDown, 0, 'the first poll was answered slow_down')
    const gap = polls[1] - polls[0]
    // interval is 1 s: after slow_down it is 1 + 5 = 6 s (a little timer slack allowed).
    assert.ok(gap >= 5_900, `gap after slow_down: ${gap} ms`)
    assert.equal(slow.stats.grants['urn:ietf:params:oauth:grant-type:device_code'], 1)
    const token = await runCli(['token'], env)
    assert.equal((await slow.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)
  })

  test('nobody approves and the device code expires → exit 1 saying so, promptly', async () => {
    const short = await ownProvider({ deviceCodeTtlS: 2 })
    const { env, sessionsDir } = await setup({}, short)
    const started = Date.now()
    const result = await runCli(['login', '--device', '--no-browser', '--issuer', short.issuer, '--client-id', DEMO_CLIENT_ID], env, 20_000)
    const elapsed = Date.now() - started
    assertOneLineFailure(result, /device code expired/)
    assert.ok(elapsed < 8_000, `took ${elapsed} ms`)
    assert.deepEqual((await allFiles(sessionsDir)).filter((f) => f.endsWith('session.json')), [])
  })
})

describe('where the browser is', () => {
  // Only the SSH / display rule decides: the fake openers are first in PATH and --no-browser is not given.
  const headless: Array<[string, NodeJS.ProcessEnv]> = [
    ['over SSH (SSH_CONNECTION) even with DISPLAY', { SSH_CONNECTION, DISPLAY: ':99' }],
    ['over SSH (SSH_TTY) even with WAYLAND_DISPLAY', { SSH_TTY: '/dev/pts/7', WAYLAND_DISPLAY: 'wayland-0' }],
    ['on Linux with neither DISPLAY nor WAYLAND_DISPLAY', {}],
  ]
  for (const [where, extra] of headless) {
    test(`${where}: no opener is started; the URL and an ssh -L hint on stderr; the URL completes the login`, async () => {
      const openers = await fakeOpeners()
      const { env, loginArgs } = await setup({ ...extra, PATH: `${openers.binDir}:${process.env.PATH}` })
      const cli = startCli(loginArgs, env)
      const url = new URL(await cli.url)
      const redirectPort = new URL(url.searchParams.get('redirect_uri')!).port
      const callback = await loginOverHttp(url.href, ALICE)
      assert.equal(callback.status, 200)
      const result = await cli.result
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout, '')
      assert.ok(result.stderr.includes(`ssh -L ${redirectPort}:127.0.0.1:${redirectPort}`), result.stderr)
      assert.deepEqual(await openers.calls(), [], 'no browser was started')
    })
  }

  for (const [display, extra] of [['DISPLAY', { DISPLAY: ':99' }], ['WAYLAND_DISPLAY', { WAYLAND_DISPLAY: 'wayland-0' }]] as const) {
    test(`control: with ${display} and no SSH the platform opener is started with the URL (the fake openers do see it)`, async () => {
      const openers = await fakeOpeners()
      const { env, loginArgs } = await setup({ ...extra, PATH: `${openers.binDir}:${process.env.PATH}` })
      const cli = startCli(loginArgs, env)
      const url = await cli.url
      const call = await openers.waitForUrl()
      assert.equal(call.at(-1), url)
      assert.equal((await loginOverHttp(url, ALICE)).status, 200)
      const result = await cli.result
      assert.equal(result.code, 0, result.stderr)
      assert.equal(result.stdout, '', 'the opener printed on stdout, not cli-login')
    })
  }

  test('BROWSER wins, even over SSH without a display: run split like a shell, the URL last; its output never reaches stdout', async () => {
    const fake = await fakeBrowserCommand()
    const { env, loginArgs } = await setup({ BROWSER: fake.command, SSH_CONNECTION })
    const cli = startCli(loginArgs, env)
    const url = await cli.url
    const call = await fake.waitForUrl()
    assert.deepEqual(call, ['my-browser', '--new-window', url])
    assert.equal((await loginOverHttp(call.at(-1)!, ALICE)).status, 200)
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, '')
    assert.doesNotMatch(result.stderr, /noise/)
  })
})

describe('behind an HTTP proxy (tinyproxy)', () => {
  test('HTTP_PROXY / http_proxy carry every provider request; NO_PROXY=127.0.0.1 bypasses; the callback still works', async () => {
    const proxy = await startTinyproxy()
    cleanups.push(() => proxy.close())

    // Proxied: the login (discovery, code exchange) and the refresh go through tinyproxy.
    const proxied = await setup({ HTTP_PROXY: proxy.url })
    const cli = startCli(proxied.loginArgs, proxied.env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    const afterLogin = (await proxy.log()).length
    // undici tunnels with CONNECT (one tunnel carries discovery and the code exchange).
    assert.ok((await proxy.requestsTo(provider.port)).length >= 1, `tinyproxy log:\n${await proxy.log()}`)

    const refreshesBefore = provider.stats.grants.refresh_token ?? 0
    const token = await runCli(['token', '--force-refresh'], withEnv(proxied.env, { HTTP_PROXY: undefined, http_proxy: proxy.url }))
    assert.equal(token.code, 0, token.stderr)
    assert.equal(provider.stats.grants.refresh_token, refreshesBefore + 1)
    assert.equal((await provider.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)
    assert.ok((await proxy.requestsTo(provider.port, afterLogin)).length >= 1, 'the refresh went through the proxy (lower-case http_proxy)')

    // NO_PROXY lists the provider's host: nothing goes through tinyproxy.
    const direct = await setup({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' })
    const before = (await proxy.log()).length
    const cli2 = startCli(direct.loginArgs, direct.env)
    assert.equal((await loginOverHttp(await cli2.url, ALICE)).status, 200)
    const login2 = await cli2.result
    assert.equal(login2.code, 0, login2.stderr)
    const token2 = await runCli(['token', '--force-refresh'], direct.env)
    assert.equal(token2.code, 0, token2.stderr)
    assert.deepEqual(await proxy.requestsTo(provider.port, before), [])
  })

  test('a dead proxy is not bypassed: login and refresh fail with exit 1 and one line', async () => {
    const deadPort = await findFreePortRange(1)
    const deadProxy = { HTTP_PROXY: `http://127.0.0.1:${deadPort}` }
    const { env, loginArgs, sessionsDir } = await setup(deadProxy)
    const login = await runCli(loginArgs, env, 20_000)
    assertOneLineFailure(login, /could not reach|unreachable/i)
    assert.deepEqual((await allFiles(sessionsDir)).filter((f) => f.endsWith('session.json')), [])

    // A session made without the proxy cannot be refreshed through the dead one.
    const ok = await setup()
    const cli = startCli(ok.loginArgs, ok.env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    assert.equal((await cli.result).code, 0)
    const refresh = await runCli(['token', '--force-refresh'], withEnv(ok.env, deadProxy), 20_000)
    assertOneLineFailure(refresh, /could not reach|unreachable/i)

    // The proxy dies after discovery went through it: the code exchange cannot silently go direct.
    const dying = await startTinyproxy()
    cleanups.push(() => dying.close())
    const late = await setup({ HTTP_PROXY: dying.url })
    const cli2 = startCli(late.loginArgs, late.env)
    const url = await cli2.url
    assert.ok((await dying.requestsTo(provider.port)).length >= 1, 'discovery went through the proxy')
    await dying.close()
    const page = await loginOverHttp(url, ALICE)
    assert.ok(page.status >= 400, `callback page status ${page.status}`)
    assertOneLineFailure(await cli2.result, /could not reach|unreachable|code exchange/i)
    assert.deepEqual((await allFiles(late.sessionsDir)).filter((f) => f.endsWith('session.json')), [])
  })
})

describe('a provider on https with a private CA', () => {
  let ca: TestCa
  let secure: DemoProvider
  before(async () => {
    ca = await makeTestCa()
    cleanups.push(() => ca.cleanup())
    secure = await ownProvider({ tls: { key: ca.key, cert: ca.cert } })
  })

  async function secureLogin(extraEnv: NodeJS.ProcessEnv) {
    const ctx = await setup(extraEnv, secure)
    const args = ['login', '--domain', `127.0.0.1:${secure.port}`, '--client-id', DEMO_CLIENT_ID, '--port', String(ctx.port), '--port-attempts', '3', '--no-browser']
    return { ...ctx, args }
  }

  test('NODE_EXTRA_CA_CERTS + --domain 127.0.0.1:<port> → login and token work', async () => {
    assert.equal(secure.issuer, `https://127.0.0.1:${secure.port}/`)
    const { env, args } = await secureLogin({ NODE_EXTRA_CA_CERTS: ca.caPath })
    const cli = startCli(args, env)
    const url = await cli.url
    assert.equal(new URL(url).origin, `https://127.0.0.1:${secure.port}`)
    // Chromium does not know the CA (ignoreHTTPSErrors); the CLI must, through NODE_EXTRA_CA_CERTS.
    const page = await loginInChromium(browser, url, ALICE)
    assert.equal(page.status, 200)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout)
    assert.equal(status.issuer, secure.issuer)
    const token = await runCli(['token', '--force-refresh'], env)
    assert.equal(token.code, 0, token.stderr)
    assert.equal((await secure.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)
  })

  test('through HTTPS_PROXY (CONNECT) with NODE_EXTRA_CA_CERTS → login and refresh work, via the proxy', async () => {
    const proxy = await startTinyproxy()
    cleanups.push(() => proxy.close())
    const { env, args } = await secureLogin({ NODE_EXTRA_CA_CERTS: ca.caPath, HTTPS_PROXY: proxy.url })
    const cli = startCli(args, env)
    const page = await loginInChromium(browser, await cli.url, ALICE)
    assert.equal(page.status, 200)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    const seen = (await proxy.log()).length
    assert.ok((await proxy.requestsTo(secure.port)).length >= 1, `tinyproxy log:\n${await proxy.log()}`)
    const token = await runCli(['token', '--force-refresh'], env)
    assert.equal(token.code, 0, token.stderr)
    assert.ok((await proxy.requestsTo(secure.port, seen)).length >= 1, 'the refresh went through the proxy')
  })

  test('without NODE_EXTRA_CA_CERTS → exit 1, one line naming the certificate problem', async () => {
    const { env, args, sessionsDir } = await secureLogin({})
    const refused = await runCli(args, env, 20_000)
    assertOneLineFailure(refused, /certificate/i)
    assert.deepEqual((await allFiles(sessionsDir)).filter((f) => f.endsWith('session.json')), [])
  })
})

/**
 * `logout --browser` hands the browser a one-shot loopback URL and waits for it to be loaded: the
 * recorded URL is followed here, as the browser would, and the end-session URL is its redirect.
 */
async function logoutThroughBrowser(env: NodeJS.ProcessEnv, fake: Recorder & { command: string }) {
  const cli = startCli(['logout', '--browser'], withEnv(env, { BROWSER: fake.command }))
  const given = (await fake.waitForUrl()).at(-1)!
  assert.match(given, /^http:\/\/127\.0\.0\.1:\d+\/end-session\/[\w-]+$/)
  const redirect = await fetch(given, { redirect: 'manual' })
  assert.equal(redirect.status, 302)
  return { result: cli.result, given, endSession: new URL(redirect.headers.get('location')!) }
}

describe('logout --browser', () => {
  test('opens the end-session URL with id_token_hint through BROWSER, never prints it, deletes the session', async () => {
    const fake = await fakeBrowserCommand()
    const { env, loginArgs, sessionFile } = await setup()
    const cli = startCli([...loginArgs, '--no-browser'], env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    assert.equal((await cli.result).code, 0)
    const session = JSON.parse(await readFile(sessionFile, 'utf8'))
    assert.ok(session.idToken, 'the session has an ID token')

    const discovery = await (await fetch(new URL('.well-known/openid-configuration', provider.issuer))).json() as { end_session_endpoint: string }
    const { result, endSession, given } = await logoutThroughBrowser(env, fake)
    const logout = await result
    assert.equal(logout.code, 0, logout.stderr)
    assert.ok(!given.includes(session.idToken), 'the ID token is in the browser\'s arguments')
    assert.equal(`${endSession.origin}${endSession.pathname}`, discovery.end_session_endpoint)
    assert.equal(endSession.searchParams.get('id_token_hint'), session.idToken)
    for (const output of [logout.stdout, logout.stderr]) {
      assert.ok(!output.includes(endSession.href) && !output.includes(discovery.end_session_endpoint), `end-session URL printed:\n${output}`)
      assert.ok(!output.includes(session.idToken), 'ID token printed')
    }
    assert.equal(logout.stdout, '')
    assert.equal(await exists(sessionFile), false)
  })

  test('a session without an ID token: the end-session URL carries client_id instead', async () => {
    const fake = await fakeBrowserCommand()
    const { env, loginArgs, sessionFile } = await setup()
    const cli = startCli([...loginArgs, '--no-browser', '--scope', 'offline_access'], env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    assert.equal((await cli.result).code, 0)
    assert.equal(JSON.parse(await readFile(sessionFile, 'utf8')).idToken, undefined)
    const { result, endSession } = await logoutThroughBrowser(env, fake)
    const logout = await result
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(endSession.searchParams.get('client_id'), DEMO_CLIENT_ID)
    assert.equal(endSession.searchParams.get('id_token_hint'), null)
    assert.ok(!logout.stderr.includes(endSession.href), logout.stderr)
    assert.equal(await exists(sessionFile), false)
  })

  test('over SSH without BROWSER no opener is started for the end-session URL, and it is not printed', async () => {
    const openers = await fakeOpeners()
    const { env, loginArgs, sessionFile } = await setup({ SSH_CONNECTION, DISPLAY: ':99', PATH: `${openers.binDir}:${process.env.PATH}` })
    const cli = startCli(loginArgs, env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    assert.equal((await cli.result).code, 0)
    const session = JSON.parse(await readFile(sessionFile, 'utf8'))
    const logout = await runCli(['logout', '--browser'], env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(await exists(sessionFile), false)
    assert.ok(!logout.stderr.includes('id_token_hint') && !logout.stderr.includes(session.idToken), logout.stderr)
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.deepEqual(await openers.calls(), [], 'no browser was started over SSH')
  })
})

describe('login options', () => {
  test('--prompt login reaches the provider', async () => {
    const { env, loginArgs } = await setup()
    const cli = startCli([...loginArgs, '--no-browser', '--prompt', 'login'], env)
    const url = new URL(await cli.url)
    assert.equal(url.searchParams.get('prompt'), 'login')
    assert.equal((await loginOverHttp(url.href, ALICE)).status, 200)
    assert.equal((await cli.result).code, 0)
    const request = provider.stats.authorizationRequests.find((q) => q.get('state') === url.searchParams.get('state'))
    assert.ok(request, 'the provider saw the authorization request')
    assert.equal(request.get('prompt'), 'login')
  })

  test('--client-secret: login, the secret stored 0600 with the session, refresh works, logout deletes it', async () => {
    const { env, sessionsDir, sessionFile, port } = await setup()
    const args = ['login', '--issuer', provider.issuer, '--client-id', DEMO_CONFIDENTIAL_CLIENT_ID, '--client-secret', DEMO_CLIENT_SECRET, '--port', String(port), '--port-attempts', '3', '--no-browser']
    const cli: RunningCli = startCli(args, env)
    assert.equal((await loginOverHttp(await cli.url, ALICE)).status, 200)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    assert.ok(!login.stderr.includes(DEMO_CLIENT_SECRET), 'the secret is not printed')

    assert.equal((await stat(sessionFile)).mode & 0o777, 0o600)
    const session = JSON.parse(await readFile(sessionFile, 'utf8'))
    assert.equal(session.clientSecret, DEMO_CLIENT_SECRET)
    assert.equal(session.clientId, DEMO_CONFIDENTIAL_CLIENT_ID)
    for (const file of await allFiles(sessionsDir)) {
      if (file !== sessionFile) assert.ok(!(await readFile(file, 'utf8')).includes(DEMO_CLIENT_SECRET), `${file} holds the secret`)
    }

    const refreshesBefore = provider.stats.grants.refresh_token ?? 0
    const token = await runCli(['token', '--force-refresh'], env)
    assert.equal(token.code, 0, token.stderr)
    assert.equal(provider.stats.grants.refresh_token, refreshesBefore + 1)
    assert.equal((await provider.verifyAccessToken(token.stdout.trim()))?.sub, alice.sub)

    const revocations = provider.stats.revocations
    const logout = await runCli(['logout'], env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(provider.stats.revocations, revocations + 1, 'revoked with the client secret')
    assert.equal(await exists(sessionFile), false)
    for (const file of await allFiles(sessionsDir)) {
      assert.ok(!(await readFile(file, 'utf8')).includes(DEMO_CLIENT_SECRET), `${file} still holds the secret`)
    }
  })
})
