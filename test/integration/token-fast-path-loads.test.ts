/** `cli-login token` with a fresh token loads nothing but Node's own modules and its bundle. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN, cleanEnv, makeTempHome } from '../helpers/cli.ts'

const HOOK = fileURLToPath(new URL('../helpers/record-loads.cjs', import.meta.url))
const FAST = fileURLToPath(new URL('../../dist/token-fast.cjs', import.meta.url))
const FULL = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))

async function tokenWithRecordedLoads(expiresInS: number) {
  const home = await makeTempHome()
  try {
    const now = Math.floor(Date.now() / 1000)
    const session = { version: 1, issuer: 'https://tenant.auth0.com/', clientId: 'c', requestedScope: 'openid', tokenType: 'Bearer', accessToken: 'the-access-token', expiresAt: now + expiresInS, user: {}, createdAt: now }
    const dir = join(home.dir, 'cli-login', 'profiles', 'default')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'session.json'), JSON.stringify(session), { mode: 0o600 }) // as a login writes it: a file others can read is the full CLI's to fix
    const record = join(home.dir, 'loads.json')
    const result = spawnSync(process.execPath, ['--require', HOOK, BIN, 'token'], { env: cleanEnv(home.dir, { RECORD_LOADS_FILE: record }), encoding: 'utf8' })
    const loads = JSON.parse(await readFile(record, 'utf8')) as { requests: string[]; files: string[] }
    return { ...result, ...loads }
  } finally {
    await home.cleanup()
  }
}

const isBuiltin = (request: string) => request.startsWith('node:') || builtinModules.includes(request)

test('a fresh token: only node:* modules and the fast bundle are loaded', async () => {
  const run = await tokenWithRecordedLoads(3600)
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout, 'the-access-token\n')
  const others = run.requests.filter((request) => !isBuiltin(request) && request !== BIN && !request.startsWith('./') && !request.startsWith('../'))
  assert.deepEqual(others, [], 'only builtins and relative bundle files are requested')
  assert.deepEqual(run.files.filter((file) => file !== HOOK).sort(), [BIN, FAST].sort(), 'no other file is loaded')
  // Builtins cost too: node:crypto (DPoP proofs), node:os (locks), node:http (requests) are not needed to print a token.
  for (const builtin of ['node:crypto', 'crypto', 'node:os', 'os', 'node:http', 'node:https']) assert.ok(!run.requests.includes(builtin), `${builtin} is not loaded`)
})

test('(the recording sees more when the full CLI runs: a stale token without a refresh token)', async () => {
  const run = await tokenWithRecordedLoads(10)
  assert.equal(run.status, 4)
  assert.ok(run.files.includes(FULL), run.files.join('\n'))
})
