/** A re-login revokes the replaced refresh token while the success page goes out, and never waits long for it. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { CliLogin } from '../../src/index.ts'
import { createBrowserDouble, DEMO_CLIENT_ID, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { makeTempHome } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
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

async function login(fetchImpl: typeof fetch, debug: string[] = []) {
  const browser = createBrowserDouble({ username: alice.username, password: alice.password })
  const auth = new CliLogin({
    appName: 'acme',
    home: home.dir,
    issuer: provider.issuer,
    clientId: DEMO_CLIENT_ID,
    port: await findFreePortRange(3),
    portAttempts: 3,
    openBrowser: browser.openBrowser,
    fetch: fetchImpl,
    onDebug: (line) => debug.push(line),
  })
  await auth.login()
  await browser.settled()
  return auth
}

test('a provider that never answers the revocation holds the re-login at most a few seconds; the new session is stored', async () => {
  await login(fetch)
  const { readFile } = await import('node:fs/promises')
  const sessionFile = `${home.dir}/profiles/default/session.json`
  const first = JSON.parse(await readFile(sessionFile, 'utf8'))
  let revocations = 0
  // Revocation requests hang until aborted; everything else goes to the provider.
  const hangingRevocation: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/oauth/revoke')) {
      revocations++
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)))
    }
    return fetch(input, init)
  }
  const debug: string[] = []
  const started = Date.now()
  const auth = await login(hangingRevocation, debug)
  const tookMs = Date.now() - started
  assert.equal(revocations, 1, 'the replaced refresh token was sent for revocation')
  assert.ok(tookMs < 8000, `the login ended after ${tookMs} ms`)
  assert.ok(debug.some((line) => /no answer within \d+ ms/.test(line)), debug.join('\n'))
  const second = JSON.parse(await readFile(sessionFile, 'utf8'))
  assert.notEqual(second.refreshToken, first.refreshToken, 'the new session is stored')
  const token = await auth.getAccessToken()
  assert.equal((await provider.verifyAccessToken(token.access_token))?.sub, alice.sub)
})

test('a provider that answers: the replaced refresh token is revoked', async () => {
  await login(fetch)
  const before = provider.stats.revocations
  await login(fetch)
  assert.equal(provider.stats.revocations, before + 1)
})
