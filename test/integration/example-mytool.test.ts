/** examples/mytool: a company CLI that embeds the library (through the package's own exports). */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_USERS, startTestProvider as startDemoProvider, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { loginOverHttp } from '../helpers/http-browser.ts'
import { cleanEnv, makeTempHome, type CliResult } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const MYTOOL = fileURLToPath(new URL('../../examples/mytool/mytool.js', import.meta.url))
const [alice] = DEMO_USERS
let provider: DemoProvider
let cleanup: () => Promise<void>

before(async () => {
  provider = await startDemoProvider()
})
after(async () => {
  await cleanup?.()
  await provider.close()
})

function mytool(command: string, env: NodeJS.ProcessEnv, onUrl?: (url: string) => void): Promise<CliResult> {
  const child = spawn(process.execPath, [MYTOOL, command], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += `${line}\n`
    if (/^https?:\/\/\S+$/.test(line)) onUrl?.(line)
  })
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
}

test('mytool login → whoami calls the API with the token → logout → whoami asks to log in', async () => {
  const home = await makeTempHome()
  cleanup = home.cleanup
  const env = cleanEnv(home.dir, {
    MYTOOL_ISSUER: provider.issuer,
    MYTOOL_CLIENT_ID: DEMO_CLIENT_ID,
    MYTOOL_AUDIENCE: DEMO_AUDIENCE,
    MYTOOL_API_URL: provider.issuer,
    MYTOOL_PORT: String(await findFreePortRange(50)),
  })
  let browsing: Promise<unknown> | undefined
  const login = await mytool('login', env, (url) => (browsing = loginOverHttp(url, { username: alice.username, password: alice.password })))
  await browsing
  assert.equal(login.code, 0, login.stderr)
  assert.match(login.stderr, new RegExp(`Logged in as ${alice.name}`))

  const whoami = await mytool('whoami', env)
  assert.equal(whoami.code, 0, whoami.stderr)
  assert.equal(whoami.stdout, `${alice.name} <${alice.email}>\n`)

  assert.equal((await mytool('logout', env)).code, 0)
  const after = await mytool('whoami', env)
  assert.equal(after.code, 4)
  assert.match(after.stderr, /not logged in: run mytool login/)
})
