// How `acme`, a CLI that embeds cli-login, tests its login end to end: a real OpenID provider
// from clilogin-testkit on 127.0.0.1, and a browser double that signs in over plain HTTP.
// No account anywhere, no Chromium. Run with: node --test
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthorizationError, CliLogin, LoginRequiredError, ProviderError } from 'clilogin'
import { createBrowserDouble, startTestProvider } from 'clilogin-testkit'

const ACME_CLIENT_ID = 'acme-cli'
const ACME_API = 'https://api.acme.example/'

// acme's own factory; in acme the issuer is baked in, the test points it at the kit's provider.
function acmeAuth({ issuer, home, openBrowser }) {
  return new CliLogin({ appName: 'acme', issuer, clientId: ACME_CLIENT_ID, audience: ACME_API, home, openBrowser })
}

async function setUp(t, options = {}) {
  const provider = await startTestProvider({ clients: [{ clientId: ACME_CLIENT_ID, clientName: 'Acme CLI' }], audiences: [ACME_API], ...options })
  const home = await mkdtemp(join(tmpdir(), 'acme-test-'))
  t.after(async () => {
    await provider.close()
    await rm(home, { recursive: true, force: true })
  })
  return { provider, home }
}

test('acme login: the user signs in, every command then gets a token the API accepts', async (t) => {
  const { provider, home } = await setUp(t)
  const browser = createBrowserDouble({ username: 'alice', password: 'alice-demo-password' })
  const auth = acmeAuth({ issuer: provider.issuer, home, openBrowser: browser.openBrowser })

  const who = await auth.login()
  assert.equal(who.email, 'alice@example.com')
  const [callback] = await browser.settled()
  assert.equal(callback.status, 200) // acme's success page

  const { access_token } = await auth.getAccessToken()
  const identity = await provider.verifyAccessToken(access_token)
  assert.equal(identity?.sub, 'auth0|alice')
  assert.equal(identity?.aud, ACME_API)
  assert.equal(provider.stats.grants.authorization_code, 1)
})

test('acme login: the user presses Deny', async (t) => {
  const { provider, home } = await setUp(t)
  const browser = createBrowserDouble({ action: 'deny' })
  const auth = acmeAuth({ issuer: provider.issuer, home, openBrowser: browser.openBrowser })
  await assert.rejects(auth.login(), (error) => error instanceof AuthorizationError && error.error === 'access_denied')
})

test('a provider outage keeps the session; an admin revoking the user ends it', async (t) => {
  const { provider, home } = await setUp(t)
  const auth = acmeAuth({ issuer: provider.issuer, home, openBrowser: createBrowserDouble().openBrowser })
  await auth.login()

  provider.faults.tokenEndpoint = { status: 503, body: '{"error":"temporarily_unavailable"}', times: 1 }
  await assert.rejects(auth.getAccessToken({ forceRefresh: true }), ProviderError)
  const { access_token } = await auth.getAccessToken({ forceRefresh: true }) // the outage is over
  assert.ok(await provider.verifyAccessToken(access_token))
  assert.equal(provider.stats.grants.refresh_token, 1)

  assert.equal(provider.revokeGrants('alice'), 1)
  await assert.rejects(auth.getAccessToken({ forceRefresh: true }), LoginRequiredError) // acme says: run acme login
})
