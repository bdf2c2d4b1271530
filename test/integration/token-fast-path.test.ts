/**
 * `cli-login token` with a fresh token is answered by dist/token-fast.cjs without the rest of the CLI.
 * It must say exactly what the full CLI says, and hand everything else over to it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN, cleanEnv, makeTempHome } from '../helpers/cli.ts'

const FULL_CLI = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))

function run(bin: 'fast' | 'full', args: string[], env: NodeJS.ProcessEnv) {
  const argv = bin === 'fast' ? [BIN, ...args] : ['-e', `process.argv.splice(1, 0, 'cli-login'); require(${JSON.stringify(FULL_CLI)}).run()`, ...args]
  const result = spawnSync(process.execPath, argv, { env, encoding: 'utf8' })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

async function withSession(session: object | string, fn: (env: NodeJS.ProcessEnv) => void) {
  const home = await makeTempHome()
  try {
    const dir = join(home.dir, 'cli-login', 'profiles', 'default')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'session.json'), typeof session === 'string' ? session : JSON.stringify(session), { mode: 0o600 })
    fn(cleanEnv(home.dir))
  } finally {
    await home.cleanup()
  }
}

const now = Math.floor(Date.now() / 1000)
const base = { version: 1, issuer: 'https://tenant.auth0.com/', clientId: 'c', requestedScope: 'openid', tokenType: 'Bearer', accessToken: 'the-access-token', user: {}, createdAt: now }

test('a fresh token: both paths print the same thing in every format', async () => {
  await withSession({ ...base, expiresAt: now + 3600 }, (env) => {
    for (const args of [['token'], ['token', '--format', 'json'], ['token', '--format', 'header'], ['token', '--min-ttl', '10']]) {
      const fast = run('fast', args, env)
      const full = run('full', args, env)
      assert.equal(fast.code, 0)
      assert.deepEqual(fast, full, args.join(' '))
    }
    assert.equal(run('fast', ['token'], env).stdout, 'the-access-token\n')
    assert.equal(run('fast', ['token'], { ...env, CLI_LOGIN_FORMAT: 'header' }).stdout, 'Authorization: Bearer the-access-token\n')
  })
})

test('the fast path really answers a fresh token (and declines the rest)', async () => {
  const fastPath = fileURLToPath(new URL('../../dist/token-fast.cjs', import.meta.url))
  const probe = (env: NodeJS.ProcessEnv, args: string[]) =>
    spawnSync(process.execPath, ['-e', `Promise.resolve(require(${JSON.stringify(fastPath)}).tryFreshToken(${JSON.stringify(args)}, process.env)).then((done) => process.stderr.write(String(done)))`], { env, encoding: 'utf8' })
  await withSession({ ...base, expiresAt: now + 3600 }, (env) => {
    const fresh = probe(env, [])
    assert.equal(fresh.stderr, 'true')
    assert.equal(fresh.stdout, 'the-access-token\n')
    for (const args of [['--force-refresh'], ['--min-ttl', '7200'], ['--format', 'xml'], ['--help'], ['--storage', 'keychain']]) {
      const declined = probe(env, args)
      assert.equal(declined.stderr, 'false', args.join(' '))
      assert.equal(declined.stdout, '')
    }
  })
})

test('everything that is not a fresh token goes to the full CLI, with the same result', async () => {
  await withSession({ ...base, expiresAt: now + 30 }, (env) => {
    // 30 s left is under the default min TTL of 60 s, and there is no refresh token.
    const fast = run('fast', ['token'], env)
    assert.equal(fast.code, 4)
    assert.deepEqual(fast, run('full', ['token'], env))
    assert.equal(run('fast', ['token', '--min-ttl', '5'], env).code, 0)
  })
  await withSession({ ...base, expiresAt: now + 3600, refreshRejectedAt: now }, (env) => {
    const fast = run('fast', ['token'], env)
    assert.equal(fast.code, 4)
    assert.match(fast.stderr, /session expired/)
  })
  await withSession('{"version":1,', (env) => {
    const fast = run('fast', ['token'], env)
    assert.equal(fast.code, 1)
    assert.deepEqual(fast, run('full', ['token'], env))
  })
  await withSession({ ...base, expiresAt: now + 3600 }, (env) => {
    for (const args of [['token', '--format', 'xml'], ['token', '--bogus'], ['token', '--help']]) {
      assert.deepEqual(run('fast', args, env), run('full', args, env), args.join(' '))
    }
  })
})
