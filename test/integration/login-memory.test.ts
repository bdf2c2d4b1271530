/**
 * A CLI login never loads Node's own fetch classes (bundled undici, ~12 MiB): the CLI answers
 * openid-client with src/net/light-fetch.ts's Headers and Response, and without a proxy it talks to
 * the provider on node:http (src/net/provider-fetch.ts), never through the undici package.
 * test/helpers/record-fetch-use.cjs records what of fetch a process used, from the public globals
 * and require.cache only.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEMO_CLIENT_ID, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { cleanEnv, makeTempHome, runCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const BROWSER_DOUBLE = fileURLToPath(new URL('../helpers/browser-double.mjs', import.meta.url))
const RECORDER = fileURLToPath(new URL('../helpers/record-fetch-use.cjs', import.meta.url))

interface FetchUse { main: string | null; globals: string[]; undiciFiles: string[] }

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

test('the recorder sees a use of Node\'s fetch globals and of the undici package', async () => {
  const list = join(home.dir, 'control.json')
  const run = (code: string): FetchUse => {
    const result = spawnSync(process.execPath, ['--require', RECORDER, '-e', code], { env: { PATH: process.env.PATH, RECORD_FETCH_FILE: list }, encoding: 'utf8' })
    assert.equal(result.status, 0, result.stderr)
    return JSON.parse(readFileSync(list, 'utf8')) as FetchUse
  }
  assert.deepEqual(run('0').globals, [])
  assert.deepEqual(run('new Headers()').globals, ['Headers'])
  assert.deepEqual(run("fetch('data:,x').then(() => {})").globals, ['fetch'])
  assert.ok(run("require('undici')").undiciFiles.length > 0)
})

test('login, then a refreshing token: Node\'s fetch globals unused, the undici package not loaded', async () => {
  const list = join(home.dir, 'fetch-use.json')
  const used = async (): Promise<FetchUse> => JSON.parse(await readFile(list, 'utf8')) as FetchUse
  // Only the CLI's process records: the browser double (NODE_OPTIONS reaches it too) uses fetch.
  const env = cleanEnv(home.dir, {
    BROWSER: `${process.execPath} ${BROWSER_DOUBLE}`,
    NODE_OPTIONS: `--require ${RECORDER}`,
    RECORD_FETCH_FILE: list,
    RECORD_FETCH_MAIN: 'cli-login\\.cjs$',
  })
  const port = await findFreePortRange(3)
  const login = await runCli(['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3'], env)
  assert.equal(login.code, 0, login.stderr)
  const atLogin = await used()
  assert.match(atLogin.main ?? '', /cli-login\.cjs$/, 'the CLI\'s process recorded')
  assert.deepEqual(atLogin, { main: atLogin.main, globals: [], undiciFiles: [] })
  await rm(list)
  const refresh = await runCli(['token', '--force-refresh'], env)
  assert.equal(refresh.code, 0, refresh.stderr)
  assert.equal((await provider.verifyAccessToken(refresh.stdout.trim()))?.sub !== undefined, true)
  const atRefresh = await used()
  assert.deepEqual(atRefresh, { main: atRefresh.main, globals: [], undiciFiles: [] })
})
