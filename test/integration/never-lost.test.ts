/**
 * Nothing lost, ever (issue 19; PRODUCT.md, Security requirements): a refresh held past the lock's
 * bound is never run twice, and a rotated refresh token survives a JWKS that fails, Ctrl-C and
 * SIGTERM at the exact moment its answer is under way. The test kit's provider rotates refresh
 * tokens with reuse detection (as Auth0 does): a lost rotated token would end the session, so
 * "the next refresh works" is the proof that it was kept.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { lastLine, runCli, startCli } from '../helpers/cli.ts'
import { expire, loggedIn as logIn } from '../helpers/logged-in.ts'

const [alice] = DEMO_USERS
const JWKS = 'GET /.well-known/jwks.json'
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

const loggedIn = async () => {
  const session = await logIn(provider, cleanups)
  return { ...session, providerCache: join(session.profileDir, 'provider.json') }
}

/** As if the cached key set were older than a day: the next refresh fetches the JWKS. */
async function forgetCachedJwks(providerCache: string) {
  const cache = JSON.parse(await readFile(providerCache, 'utf8'))
  delete cache.jwks
  await writeFile(providerCache, JSON.stringify(cache))
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

const refreshGrants = () => provider.stats.grants.refresh_token ?? 0

/** The session lives on: the refresh token stored is the one the provider rotated to (reuse would revoke the grant). */
async function assertSessionLivesOn(env: NodeJS.ProcessEnv) {
  const errors = provider.stats.refreshErrors
  const next = await runCli(['token', '--force-refresh'], env)
  assert.equal(next.code, 0, `the rotated refresh token was lost:\n${next.stderr}`)
  assert.equal((await provider.verifyAccessToken(next.stdout.trim()))?.sub, alice.sub)
  assert.equal(provider.stats.refreshErrors, errors, 'no refresh token was refused')
}

describe('the lock: a refresh held past the bound is never run twice', () => {
  test('a suspended holder keeps the lock: the fast path and the full CLI give up after 60 s with one line (exit 1), send nothing; the holder finishes later', async () => {
    const { env, sessionFile } = await loggedIn()
    await expire(sessionFile)
    const requests = provider.stats.tokenRequests
    const grants = refreshGrants()
    provider.faults.tokenEndpointDelayMs = 1000
    const holder = startCli(['token'], env, 180_000)
    try {
      await until(() => provider.stats.tokenRequests > requests, "the holder's refresh request")
      holder.child.kill('SIGSTOP')
      delete provider.faults.tokenEndpointDelayMs
      const started = Date.now()
      const [fastPath, fullCli] = await Promise.all([runCli(['token'], env, 150_000), runCli(['token', '--force-refresh'], env, 150_000)])
      for (const [label, result] of [['fast path', fastPath], ['full CLI', fullCli]] as const) {
        assert.equal(result.code, 1, `${label}: ${result.stderr}`)
        assert.equal(result.stdout, '')
        assert.match(lastLine(result.stderr), new RegExp(`^cli-login: another process \\(pid ${holder.child.pid}\\) is using the session of profile "default" and still holds its lock; gave up after 60 s`))
        assert.equal(result.stderr.trim().split('\n').length, 1, `${label}: one line`)
      }
      assert.ok(Date.now() - started >= 59_000)
      assert.equal(provider.stats.tokenRequests, requests + 1, 'no waiter sent a refresh of its own')
    } finally {
      holder.child.kill('SIGCONT')
    }
    const held = await holder.result
    assert.equal(held.code, 0, held.stderr)
    assert.equal(refreshGrants(), grants + 1)
    assert.equal((await provider.verifyAccessToken(held.stdout.trim()))?.sub, alice.sub)
    await assertSessionLivesOn(env)
  })
})

describe('a rotated refresh token is never lost', () => {
  test('the JWKS failing once right after the rotated answer: the new tokens are in use, the ID token is verified at the next refresh', async () => {
    const { env, sessionFile, providerCache, session } = await loggedIn()
    await forgetCachedJwks(providerCache)
    await expire(sessionFile)
    const before = await session()
    provider.faults.jwks = { status: 503, times: 1 }
    const result = await runCli(['token'], env)
    assert.equal(provider.faults.jwks, undefined, 'the JWKS was asked for, and failed')
    assert.equal(result.code, 0, result.stderr)
    assert.equal((await provider.verifyAccessToken(result.stdout.trim()))?.sub, alice.sub)
    const kept = await session()
    assert.notEqual(kept.refreshToken, before.refreshToken, 'the rotated refresh token is stored')
    assert.equal(kept.accessToken, result.stdout.trim())
    assert.equal(typeof kept.unverifiedIdToken, 'string', 'its ID token waits for the next refresh')
    assert.deepEqual(kept.claims, before.claims, 'the previous claims stay')
    await assertSessionLivesOn(env)
    const verified = await session()
    assert.equal(verified.unverifiedIdToken, undefined)
    // The refreshed ID token (byte for byte the login's when all happens within one second: same claims, same iat).
    const iat = (token: string | undefined) => (JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString()) as { iat: number }).iat
    assert.ok(iat(verified.idToken) >= iat(before.idToken), 'the ID token of the latest refresh, verified')
    assert.equal(verified.claims?.sub, alice.sub)
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} while the rotated answer is on its way: the process waits for it, stores it, then ends (${signal === 'SIGINT' ? 'exit 130' : 'by SIGTERM'})`, async () => {
      const { env, sessionFile, session } = await loggedIn()
      await expire(sessionFile)
      const before = await session()
      const grants = refreshGrants()
      provider.faults.tokenAnswerDelayMs = 1500
      try {
        const running = startCli(['token'], env)
        await until(() => refreshGrants() > grants, 'the refresh grant (the old refresh token is spent from here on)')
        running.child.kill(signal)
        const result = await running.result
        if (signal === 'SIGINT') {
          assert.equal(result.code, 130, result.stderr)
          assert.match(lastLine(result.stderr), /^cli-login: interrupted/)
        } else {
          assert.equal(result.signal, 'SIGTERM', `exit ${result.code}: ${result.stderr}`)
        }
        assert.equal(result.stdout, '')
      } finally {
        delete provider.faults.tokenAnswerDelayMs
      }
      assert.notEqual((await session()).refreshToken, before.refreshToken, 'the rotated refresh token is stored')
      await assertSessionLivesOn(env)
    })

    test(`${signal} while the ID token is being verified (the JWKS slow): the answer is stored already`, async () => {
      const { env, sessionFile, providerCache, session } = await loggedIn()
      await forgetCachedJwks(providerCache)
      await expire(sessionFile)
      const before = await session()
      const jwksRequests = provider.stats.requests[JWKS] ?? 0
      provider.faults.jwks = { delayMs: 1500 }
      const running = startCli(['token'], env)
      await until(() => (provider.stats.requests[JWKS] ?? 0) > jwksRequests, 'the JWKS request')
      running.child.kill(signal)
      const result = await running.result
      if (signal === 'SIGINT') assert.equal(result.code, 130, result.stderr)
      else assert.equal(result.signal, 'SIGTERM', `exit ${result.code}: ${result.stderr}`)
      assert.notEqual((await session()).refreshToken, before.refreshToken, 'the rotated refresh token is stored')
      await assertSessionLivesOn(env)
    })
  }
})

describe('one request per refresh', () => {
  test('a refresh after login asks the provider once (the JWKS is cached beside the metadata); keys it lacks are fetched again', async () => {
    const { env, sessionFile, providerCache } = await loggedIn()
    await expire(sessionFile)
    const requests = { ...provider.stats.requests }
    const result = await runCli(['token'], env)
    assert.equal(result.code, 0, result.stderr)
    const made = Object.entries(provider.stats.requests).filter(([key, count]) => count !== (requests[key] ?? 0)).map(([key, count]) => `${key} ×${count - (requests[key] ?? 0)}`)
    assert.deepEqual(made, ['POST /oauth/token ×1'])
    // A key set without the provider's signing key (as after a key rotation): fetched again, verified, cached.
    const cache = JSON.parse(await readFile(providerCache, 'utf8'))
    cache.jwks.keys = cache.jwks.keys.map((key: Record<string, unknown>) => ({ ...key, kid: 'retired-key' }))
    await writeFile(providerCache, JSON.stringify(cache))
    const jwksRequests = provider.stats.requests[JWKS] ?? 0
    await expire(sessionFile)
    const rotated = await runCli(['token'], env)
    assert.equal(rotated.code, 0, rotated.stderr)
    assert.equal(provider.stats.requests[JWKS], jwksRequests + 1, 'refetched for the unknown kid')
    assert.ok(JSON.parse(await readFile(providerCache, 'utf8')).jwks.keys.some((key: { kid?: string }) => key.kid !== 'retired-key'))
  })
})
