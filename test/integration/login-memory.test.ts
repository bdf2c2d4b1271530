/**
 * A CLI login never loads Node's own fetch classes (bundled undici, ~12 MiB): the CLI answers
 * openid-client with src/net/light-fetch.ts's Headers and Response.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEMO_CLIENT_ID, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, makeTempHome, runCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const BROWSER_DOUBLE = fileURLToPath(new URL('../helpers/browser-double.mjs', import.meta.url))
let provider: TestProvider
let home: Awaited<ReturnType<typeof makeTempHome>>

before(async () => {
  provider = await startTestProvider()
  home = await makeTempHome()
})
after(async () => {
  await home.cleanup()
  await provider.close()
})

test('login, then a refreshing token: the built-in modules loaded include no undici and no fetch classes', async () => {
  const hook = join(home.dir, 'module-list.cjs')
  const list = join(home.dir, 'modules.txt')
  // Only the CLI's process writes the list: the browser double (NODE_OPTIONS reaches it too) uses fetch.
  await writeFile(hook, `if (/cli-login\\.cjs$/.test(process.argv[1] ?? '')) process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')))\n`)
  const env = cleanEnv(home.dir, { BROWSER: `${process.execPath} ${BROWSER_DOUBLE}`, NODE_OPTIONS: `--require ${hook}` })
  const port = await findFreePortRange(3)
  const login = await runCli(['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3'], env)
  assert.equal(login.code, 0, login.stderr)
  const modules = await readFile(list, 'utf8')
  assert.match(modules, /NativeModule http\b/, 'the recording works')
  assert.doesNotMatch(modules, /internal\/deps\/undici\/undici/)
  const refresh = await runCli(['token', '--force-refresh'], env)
  assert.equal(refresh.code, 0, refresh.stderr)
  assert.equal((await provider.verifyAccessToken(refresh.stdout.trim()))?.sub !== undefined, true)
  assert.doesNotMatch(await readFile(list, 'utf8'), /internal\/deps\/undici\/undici/)
})
