/** examples/acme-ts: a TypeScript CLI embedding the library through the package's own exports. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { approveDeviceOverHttp, DEMO_SECOND_AUDIENCE, DEMO_USERS, loginOverHttp, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, lastLine, makeTempHome } from '../helpers/cli.ts'
import { ACME, runTool, startTool } from '../helpers/example-tools.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice, bob] = DEMO_USERS
const ACME_API = 'https://api.acme.example/'
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider({ clients: [{ clientId: 'acme-cli', clientName: 'Acme CLI' }], audiences: [ACME_API] })
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function acmeEnv() {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const xdg = join(home.dir, 'xdg')
  const env = cleanEnv(home.dir, { XDG_CONFIG_HOME: xdg, CLI_LOGIN_HOME: undefined, ACME_ISSUER: provider.issuer, ACME_API_URL: provider.issuer, ACME_PORT: String(await findFreePortRange(50)) })
  return { env, xdg }
}

test('acme login → whoami → token --audience → logout → token asks to run acme login', async () => {
  const { env, xdg } = await acmeEnv()
  const login = startTool(ACME, ['login'], env)
  const page = await loginOverHttp(await login.url, { username: alice.username, password: alice.password })
  assert.match(page.body, /You are logged in to Acme CLI/)
  const done = await login.result
  assert.equal(done.code, 0, done.stderr)
  assert.match(done.stderr, /Open this URL in a browser to log in:/)
  assert.match(done.stderr, new RegExp(`Logged in to Acme as ${alice.email}`))
  assert.deepEqual(await readdir(xdg), ['acme'])

  const whoami = await runTool(ACME, ['whoami'], env)
  assert.equal(whoami.code, 0, whoami.stderr)
  assert.equal(whoami.stdout, `${alice.name} <${alice.email}>\nsigned in at ${provider.issuer} as ${alice.sub}\n`)

  const main = await runTool(ACME, ['token'], env)
  assert.deepEqual([decodeJwt(main.stdout.trim()).aud].flat(), [ACME_API])
  const billing = await runTool(ACME, ['token', '--audience', DEMO_SECOND_AUDIENCE], env)
  assert.equal(billing.code, 0, billing.stderr)
  assert.deepEqual([decodeJwt(billing.stdout.trim()).aud].flat(), [DEMO_SECOND_AUDIENCE])

  const logout = await runTool(ACME, ['logout'], env)
  assert.equal(logout.code, 0, logout.stderr)
  assert.match(logout.stderr, /^Logged out\.$/m)
  const after = await runTool(ACME, ['token'], env)
  assert.equal(after.code, 4)
  assert.equal(after.stdout, '')
  assert.equal(lastLine(after.stderr), 'acme: not logged in: run acme login')
})

test('acme login --device: the code is shown by acme, approved on the provider\'s page', async () => {
  const { env } = await acmeEnv()
  const login = startTool(ACME, ['login', '--device'], env)
  const url = await login.url
  assert.equal(new URL(url).pathname, '/activate')
  await approveDeviceOverHttp(url, { username: bob.username, password: bob.password })
  const done = await login.result
  assert.equal(done.code, 0, done.stderr)
  assert.match(done.stderr, new RegExp(`Logged in to Acme as ${bob.email}`))
  // A later login without --device is a browser login again: nothing was remembered.
  const again = startTool(ACME, ['login'], env)
  assert.equal(new URL(await again.url).pathname, '/authorize')
  await loginOverHttp(await again.url, { username: alice.username, password: alice.password })
  assert.equal((await again.result).code, 0)
})
