/**
 * End to end with real headless Chromium: the built `cli-login` with `--dpop` and `--par` against the
 * kit's provider (which requires DPoP with nonces of this client, and offers PAR) and its protected
 * resource (which takes DPoP-bound tokens only); and glewlwyd 2.7.5, whose metadata offers neither
 * DPoP nor PAR: `auto` logs in with bearer tokens as before; `--dpop` (metadata silent: the login
 * tries) gets DPoP-bound tokens all the same, glewlwyd honouring the proofs; `--par on` ends before
 * any browser (exit 1).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { DEMO_USERS, startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { glewlwydBinary, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.ts'
import { signInWithChromium } from '../helpers/glewlwyd-browser.ts'

const [alice] = DEMO_USERS
const CLIENT = 'e2e-dpop'
let browser: Browser
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  browser = await launchChromium()
})
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await browser?.close()
})

async function profile() {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const env = cleanEnv(temp.dir)
  const sessionFile = join(temp.dir, 'cli-login', 'profiles', 'default', 'session.json')
  return { env, sessionFile, session: async () => JSON.parse(await readFile(sessionFile, 'utf8')) as Record<string, unknown> }
}

/** Sends the header lines `token --format dpop` printed (as `curl -H @-` does). */
function callWith(url: string, lines: string): Promise<Response> {
  const headers: Record<string, string> = {}
  for (const line of lines.trim().split('\n')) {
    const at = line.indexOf(': ')
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 2)
  }
  return fetch(url, { headers })
}

describe('the kit provider (DPoP with nonces, PAR) and a resource that takes DPoP tokens only', () => {
  let provider: TestProvider
  let resource: ProtectedResource
  let port: number
  before(async () => {
    provider = await startTestProvider({ par: true, clients: [{ clientId: CLIENT, dpop: true, dpopNonce: true }] })
    resource = await startProtectedResource({ authorizationServer: provider, path: '/api', dpop: 'required' })
    port = await findFreePortRange(3)
    cleanups.push(() => provider.close(), () => resource.close())
  })

  test('login --dpop --par in Chromium; token --format dpop is accepted; a refresh keeps the binding; the copied token alone is refused; logout deletes the key', async () => {
    const p = await profile()
    const cli = startCli(['login', '--issuer', provider.issuer, '--client-id', CLIENT, '--resource', resource.resource, '--dpop', '--par', '--port', String(port), '--port-attempts', '3', '--no-browser'], p.env)
    const url = new URL(await cli.url)
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'], 'a pushed request: the URL is short')
    const page = await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
    assert.equal(page.status, 200)
    const login = await cli.result
    assert.equal(login.code, 0, login.stderr)
    const push = provider.stats.pushedAuthorizationRequests.at(-1)!
    assert.equal(push.dpop, true, 'the push carried a proof')
    const status = JSON.parse((await runCli(['status', '--json'], p.env)).stdout) as { token_type: string; jkt: string }
    assert.equal(status.token_type, 'DPoP')
    assert.equal(push.params.get('dpop_jkt'), status.jkt)

    const lines = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', resource.url], p.env)
    assert.equal(lines.code, 0, lines.stderr)
    assert.equal((await callWith(resource.url, lines.stdout)).status, 200)
    const refreshed = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', resource.url, '--force-refresh'], p.env)
    assert.equal(refreshed.code, 0, refreshed.stderr)
    assert.notEqual(refreshed.stdout.split('\n')[0], lines.stdout.split('\n')[0], 'a new access token')
    assert.equal((await callWith(resource.url, refreshed.stdout)).status, 200)

    const copied = (await p.session()).accessToken as string
    assert.equal((await fetch(resource.url, { headers: { authorization: `Bearer ${copied}` } })).status, 401)
    assert.equal((await fetch(resource.url, { headers: { authorization: `DPoP ${copied}` } })).status, 401)

    const raw = await runCli(['token'], p.env)
    assert.equal(raw.code, 2)
    assert.match(lastLine(raw.stderr), /--format dpop/)

    const logout = await runCli(['logout'], p.env)
    assert.equal(logout.code, 0, logout.stderr)
    await assert.rejects(p.session(), { code: 'ENOENT' })
  })
})

describe('glewlwyd 2.7.5 (no DPoP, no PAR in its metadata)', { skip: glewlwydBinary() ? false : 'glewlwyd is not installed (run scripts/ci/install-glewlwyd.sh as root)' }, () => {
  let glewlwyd: Glewlwyd
  let firstPort: number
  before(async () => {
    firstPort = await findFreePortRange(3)
    glewlwyd = await startGlewlwyd({ redirectPorts: { first: firstPort, count: 3 } })
    cleanups.push(() => glewlwyd.stop())
  })
  const loginArgs = (...extra: string[]) => ['login', '--issuer', glewlwyd.issuer, '--client-id', glewlwyd.clientId, '--port', String(firstPort), '--port-attempts', '3', '--no-browser', '--timeout', '60', ...extra]

  test('auto: a bearer login as before (no dpop_jkt, a plain authorization request); --dpop: it binds all the same (its userinfo takes token + proof); --par on: exit 1 before any browser', async () => {
    const metadata = await (await fetch(`${glewlwyd.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
    assert.equal(metadata.dpop_signing_alg_values_supported, undefined)
    assert.equal(metadata.pushed_authorization_request_endpoint, undefined)

    const p = await profile()
    const context = await browser.newContext()
    cleanups.push(() => context.close())
    const cli = startCli(loginArgs(), p.env, 90_000)
    const url = new URL(await cli.url)
    assert.equal(url.searchParams.get('dpop_jkt'), null)
    assert.ok(url.searchParams.get('code_challenge'))
    await signInWithChromium(await context.newPage(), url.href, glewlwyd.user)
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    const status = JSON.parse((await runCli(['status', '--json'], p.env)).stdout) as { token_type: string; jkt: string | null }
    assert.equal(status.token_type, 'Bearer')
    assert.equal(status.jkt, null)

    // Its metadata is silent about DPoP, so --dpop tries: glewlwyd honours the proof and binds the token.
    const q = await profile()
    const dpop = startCli(loginArgs('--dpop'), q.env, 90_000)
    const dpopUrl = new URL(await dpop.url)
    assert.ok(dpopUrl.searchParams.get('dpop_jkt'), 'metadata silent about DPoP: the login tries')
    await signInWithChromium(await context.newPage(), dpopUrl.href, glewlwyd.user)
    const bound = await dpop.result
    assert.equal(bound.code, 0, bound.stderr)
    const dpopStatus = JSON.parse((await runCli(['status', '--json'], q.env)).stdout) as { token_type: string; jkt: string | null }
    assert.equal(dpopStatus.token_type, 'DPoP')
    const userinfo = metadata.userinfo_endpoint as string
    const lines = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', userinfo], q.env)
    assert.equal(lines.code, 0, lines.stderr)
    assert.equal((await callWith(userinfo, lines.stdout)).status, 200, 'its userinfo takes the token with the proof')
    const refreshed = await runCli(['token', '--force-refresh', '--format', 'json'], q.env)
    assert.equal(refreshed.code, 0, refreshed.stderr)
    assert.equal((JSON.parse(refreshed.stdout) as { token_type: string }).token_type, 'DPoP', 'the refresh, with a proof, stays bound')

    const par = await runCli(loginArgs('--par', 'on'), q.env)
    assert.equal(par.code, 1)
    assert.match(lastLine(par.stderr), /no pushed authorization request endpoint \(RFC 9126\): log in without PAR \(--par off\)$/)
    assert.doesNotMatch(par.stderr, /https?:\/\/\S+\/auth\?/, 'no authorization URL')
  })
})
