/**
 * End to end with real headless Chromium: the built CLI logs in to an MCP-style protected resource
 * it was never configured for (RFC 9728 → RFC 8414/OIDC → RFC 7591 → RFC 8707), and to a plain
 * OAuth 2 server.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { DEMO_CLIENT_ID, DEMO_USERS, startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange, occupyPorts } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
let as: TestProvider
let api: ProtectedResource
let browser: Browser
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  as = await startTestProvider({ registration: true })
  api = await startProtectedResource({ authorizationServer: as })
  browser = await launchChromium()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await browser?.close()
  await api?.close()
  await as?.close()
})

async function setup() {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(3)
  return { port, env: cleanEnv(home.dir, { CLI_LOGIN_PORT: String(port), CLI_LOGIN_PORT_ATTEMPTS: '3', CLI_LOGIN_NO_BROWSER: '1' }) }
}

test('an interrupted first login, then one on another port of the range; the token opens the API, refresh keeps the resource', async () => {
  const { port, env } = await setup()
  const first = startCli(['login', '--resource', api.url], env)
  await first.url
  first.child.kill('SIGINT')
  assert.equal((await first.result).code, 130)

  const release = await occupyPorts([port])
  cleanups.push(release)
  const second = startCli(['login', '--resource', api.url], env)
  const url = new URL(await second.url)
  assert.equal(new URL(url.searchParams.get('redirect_uri') as string).port, String(port + 1))
  assert.equal(url.searchParams.get('resource'), api.resource)
  const page = await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
  assert.equal(page.status, 200)
  const result = await second.result
  assert.equal(result.code, 0, result.stderr)

  const token = await runCli(['token', '--force-refresh'], env)
  assert.equal(token.code, 0, token.stderr)
  const response = await fetch(api.url, { headers: { authorization: `Bearer ${token.stdout.trim()}` } })
  assert.equal(response.status, 200)
  assert.equal(((await response.json()) as { sub: string }).sub, alice.sub)
})

test('a plain OAuth 2 server (RFC 8414 only) by --issuer: login, status without an ID token, logout', async () => {
  const plain = await startTestProvider({ discovery: 'oauth2' })
  cleanups.push(() => plain.close())
  const { env } = await setup()
  const cli = startCli(['login', '--issuer', plain.issuer, '--client-id', DEMO_CLIENT_ID], env)
  await loginInChromium(browser, await cli.url, { username: alice.username, password: alice.password })
  const result = await cli.result
  assert.equal(result.code, 0, result.stderr)
  const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as Record<string, unknown>
  assert.deepEqual([status.issuer, status.subject, status.claims, status.has_refresh_token], [plain.issuer, null, null, true])
  assert.equal((await runCli(['logout'], env)).code, 0)
  assert.equal(plain.stats.revocations, 1)
})
