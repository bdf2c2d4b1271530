/**
 * The built CLI against a server it was never configured for: `cli-login login --resource <url>`,
 * then `token`, `status`, `logout` and a second login with no flags at all.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { loginOverHttp, startProtectedResource, startTestProvider, DEMO_USERS, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, lastLine, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
let as: TestProvider
let api: ProtectedResource
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  as = await startTestProvider({ registration: true })
  api = await startProtectedResource({ authorizationServer: as, protocol: 'mcp' })
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await api.close()
  await as.close()
})

async function loginThroughHttp(args: string[], env: NodeJS.ProcessEnv) {
  const cli = startCli(args, env)
  const url = await cli.url
  await loginOverHttp(url, { username: alice.username, password: alice.password })
  return cli.result
}

test('login --resource <url>, then token, status, logout and another login with no flags', async () => {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(3)
  const env = cleanEnv(home.dir, { CLI_LOGIN_PORT: String(port), CLI_LOGIN_PORT_ATTEMPTS: '3' })

  const login = await loginThroughHttp(['login', '--resource', api.url], env)
  assert.equal(login.code, 0, login.stderr)
  assert.equal(as.stats.registrations, 1)

  const token = await runCli(['token'], env)
  assert.equal(token.code, 0, token.stderr)
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'initialize', params: {} }),
  })
  assert.equal(response.status, 200)
  assert.equal(((await response.json()) as { id: number }).id, 7)

  const status = await runCli(['status', '--json'], env)
  assert.equal(status.code, 0, status.stderr)
  const json = JSON.parse(status.stdout) as Record<string, unknown>
  assert.equal(json.issuer, as.issuer)
  assert.equal(json.subject, null)
  assert.equal(json.claims, null)

  const forced = await runCli(['token', '--force-refresh'], env)
  assert.equal(forced.code, 0, forced.stderr)
  assert.equal(as.stats.grants.refresh_token, 1)

  // The profile remembers the resource and the registration; no secret is among the settings.
  const settings = JSON.parse(await readFile(join(home.dir, 'cli-login', 'profiles', 'default', 'settings.json'), 'utf8')) as Record<string, unknown>
  assert.equal(settings.resource, api.url)
  assert.ok(settings.registration)

  const logout = await runCli(['logout'], env)
  assert.equal(logout.code, 0, logout.stderr)
  assert.equal(as.stats.revocations, 1)

  const again = await loginThroughHttp(['login'], env)
  assert.equal(again.code, 0, again.stderr)
  assert.equal(as.stats.registrations, 1, 'the remembered registration is reused')
  assert.equal(as.stats.authorizationRequests.at(-1)?.get('resource'), api.resource)
})

test('no --client-id and a server that offers no registration: one line, exit 2', async () => {
  const closed = await startTestProvider()
  cleanups.push(() => closed.close())
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const result = await runCli(['login', '--issuer', closed.issuer], cleanEnv(home.dir))
  assert.equal(result.code, 2)
  assert.match(lastLine(result.stderr), /^cli-login: a client id is required \(the authorization server offers no dynamic client registration\): pass --client-id <id>/)
  assert.doesNotMatch(result.stderr, /\n\s+at /)
})

test('a resource that publishes no metadata, on an origin that is no authorization server: one line naming what was tried, exit 1', async () => {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const nothing = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'))
  await new Promise<void>((resolve) => nothing.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => nothing.close(() => resolve())))
  const origin = `http://127.0.0.1:${(nothing.address() as AddressInfo).port}`
  const result = await runCli(['login', '--resource', `${origin}/api/me`], cleanEnv(home.dir))
  assert.equal(result.code, 1)
  assert.match(
    lastLine(result.stderr),
    /publishes no OAuth protected resource metadata \(RFC 9728; tried .*\/\.well-known\/oauth-protected-resource\/api\/me, .*\), http:\/\/127\.0\.0\.1:\d+ no authorization server metadata, and its default registration endpoint answered HTTP 404: give the issuer/,
  )
})
