/** examples/mcp-client: an MCP client's login from the server's URL alone, as the README shows it. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, makeTempHome } from '../helpers/cli.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BROWSER_DOUBLE = fileURLToPath(new URL('../helpers/browser-double.mjs', import.meta.url))
let provider: TestProvider
let api: ProtectedResource
let home: Awaited<ReturnType<typeof makeTempHome>>

before(async () => {
  provider = await startTestProvider({ registration: true })
  api = await startProtectedResource({ authorizationServer: provider, protocol: 'mcp' })
  home = await makeTempHome()
})
after(async () => {
  await home.cleanup()
  await api.close()
  await provider.close()
})

/**
 * Runs a script against the example module in a process of its own (it reads its environment at
 * import). Not spawnSync: the provider and the API answer from this process.
 */
function runExample(script: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const driver = `const m = await import(${JSON.stringify(join(ROOT, 'examples/mcp-client/mcp-client.ts'))}); ${script}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', driver], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })))
}

test('the MCP example logs in from the server URL alone, calls a tool, and asks to log in when there is no session', async () => {
  const xdg = join(home.dir, 'xdg')
  const env = cleanEnv(home.dir, { XDG_CONFIG_HOME: xdg, CLI_LOGIN_HOME: undefined, ACME_MCP_URL: api.url, BROWSER: `${process.execPath} ${BROWSER_DOUBLE}` })
  const before = await runExample(`await m.callTool({}).catch(() => process.exit(4))`, env)
  assert.equal(before.status, 4)
  assert.match(before.stderr, /not logged in: run acme login/)

  const login = await runExample('await m.loginCommand()', env)
  assert.equal(login.status, 0, login.stderr)
  assert.equal(provider.stats.registrations, 1, 'the example registered itself')
  assert.deepEqual(await readdir(xdg), ['acme'])

  const call = await runExample(
    `const r = await m.callTool({ jsonrpc: '2.0', id: 1, method: 'tools/list' }); console.log(r.status)`,
    env,
  )
  assert.equal(call.status, 0, call.stderr)
  assert.equal(call.stdout.trim(), '200', 'the MCP server took the token')
  assert.equal(api.stats.authorized > 0, true)
})
