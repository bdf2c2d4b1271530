/**
 * glewlwyd (Debian's package, a real third-party OpenID provider) against openid-client v6 used
 * directly — no cli-login code — with real headless Chromium on glewlwyd's login page. Proves the
 * harness (test/helpers/glewlwyd.ts) and records the provider's behaviour a CLI client meets; each
 * `record(...)` line is printed (RECORD {...}) and the facts are asserted.
 * Skipped when glewlwyd is not installed (scripts/ci/install-glewlwyd.sh installs it).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import * as client from 'openid-client'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.ts'
import { glewlwydBinary, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.ts'
import { approveDeviceWithChromium, endSessionWithChromium, signInWithChromium } from '../helpers/glewlwyd-browser.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const SCOPE = 'openid profile email offline_access' // cli-login's default scope
const skip = glewlwydBinary() ? false : 'glewlwyd is not installed (run scripts/ci/install-glewlwyd.sh as root)'

function record(what: string, value: unknown): void {
  console.log(`RECORD ${JSON.stringify({ [what]: value })}`)
}

/** A loopback callback listener: resolves each request's URL, answers a small page. */
function callbackListener(port: number): Promise<{ server: Server; next: () => Promise<URL> }> {
  const waiting: Array<(url: URL) => void> = []
  const arrived: URL[] = []
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${port}`)
    response.writeHead(200, { 'content-type': 'text/plain' }).end('callback received')
    if (url.pathname !== '/callback') return // Chromium also asks for /favicon.ico
    const waiter = waiting.shift()
    if (waiter) waiter(url)
    else arrived.push(url)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port }, () => resolve({
      server,
      next: () => {
        const url = arrived.shift()
        return url ? Promise.resolve(url) : new Promise((resolveUrl) => waiting.push(resolveUrl))
      },
    }))
  })
}

/** Raw POST (form) for recording exact statuses and bodies. */
async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; contentType: string | null; body: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) })
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() }
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}

describe('glewlwyd: openid-client v6 and real Chromium against a private instance', { skip }, () => {
  let glewlwyd: Glewlwyd
  let browser: Browser
  let config: client.Configuration
  let callbackPort: number
  let callbacks: Awaited<ReturnType<typeof callbackListener>>
  let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers

  before(async () => {
    const first = await findFreePortRange(3)
    callbackPort = first
    glewlwyd = await startGlewlwyd({ redirectPorts: { first, count: 3 }, deviceInterval: 1, postLogoutRedirectUris: [`http://127.0.0.1:${first}/logged-out`] })
    record('startMs', glewlwyd.startMs)
    callbacks = await callbackListener(callbackPort)
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    callbacks?.server.close()
    await glewlwyd?.stop()
  })

  /** A fresh browser context (no glewlwyd session) per sign-in; returns the callback URL the listener got. */
  async function browserLogin(url: URL): Promise<URL> {
    const context = await browser.newContext({ locale: 'en-US' })
    try {
      const page = await context.newPage()
      const arrived = callbacks.next()
      const { callbackUrl, status } = await signInWithChromium(page, url.href, glewlwyd.user)
      assert.equal(status, 200, `callback ${callbackUrl} answered`)
      return await arrived
    } finally {
      await context.close()
    }
  }

  test('discovery on http loopback (allowInsecureRequests)', async () => {
    config = await client.discovery(new URL(glewlwyd.issuer), glewlwyd.clientId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    })
    const metadata = config.serverMetadata()
    assert.equal(metadata.issuer, glewlwyd.issuer)
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'revocation_endpoint', 'device_authorization_endpoint', 'end_session_endpoint'] as const) {
      assert.ok(metadata[endpoint], `${endpoint} in discovery`)
    }
    record('discovery', {
      token_endpoint_auth_methods_supported: metadata.token_endpoint_auth_methods_supported,
      revocation_endpoint_auth_methods_supported: metadata.revocation_endpoint_auth_methods_supported,
      grant_types_supported: metadata.grant_types_supported,
      code_challenge_methods_supported: metadata.code_challenge_methods_supported,
      scopes_supported: metadata.scopes_supported,
      claims_supported: metadata.claims_supported,
      id_token_signing_alg_values_supported: metadata.id_token_signing_alg_values_supported,
      authorization_response_iss_parameter_supported: metadata.authorization_response_iss_parameter_supported,
    })
  })

  test('an openid request without nonce is refused (after the user signed in)', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
      scope: SCOPE,
      state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    })
    const callback = await browserLogin(url)
    record('noNonceCallback', Object.fromEntries(callback.searchParams))
    assert.equal(callback.searchParams.get('code'), null)
    assert.ok(callback.searchParams.get('error'), 'an error comes back to the callback')
  })

  test('authorization code + PKCE + nonce through Chromium, ID token validated', async () => {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const redirectUri = `http://127.0.0.1:${callbackPort}/callback`
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPE,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    const callback = await browserLogin(url)
    record('callbackParameters', [...callback.searchParams.keys()])
    tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
    const idClaims = tokens.claims()
    assert.ok(idClaims)
    assert.equal(idClaims.nonce, nonce)
    assert.equal(idClaims.iss, glewlwyd.issuer)
    assert.ok(tokens.refresh_token, 'a refresh token although offline_access is unknown to glewlwyd')
    record('tokenResponse', {
      keys: Object.keys(tokens).sort(),
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      idTokenHeader: JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString('utf8')),
    })
    record('idTokenClaims', idClaims)
    record('accessTokenClaims', claimsOf(tokens.access_token))
    assert.equal(idClaims.name, glewlwyd.user.name)
    assert.equal(idClaims.email, glewlwyd.user.email)
  })

  test('userinfo accepts the access token', async () => {
    const sub = tokens.claims()!.sub
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub)
    record('userinfo', userinfo)
    assert.equal(userinfo.sub, sub)
    assert.equal(userinfo.name, glewlwyd.user.name)
    assert.equal(userinfo.email, glewlwyd.user.email)
  })

  test('refresh with one-use rotation; the old refresh token then gets HTTP 400 with an empty body, and the chain dies', async () => {
    // Shorter access tokens for the rest (plugin changes apply after PUT …/reset).
    await glewlwyd.updatePlugin({ 'access-token-duration': 3 })
    const old = tokens.refresh_token!
    const refreshed = await client.refreshTokenGrant(config, old)
    assert.ok(refreshed.refresh_token)
    assert.notEqual(refreshed.refresh_token, old, 'rotated')
    record('refreshResponse', {
      keys: Object.keys(refreshed).sort(),
      expires_in: refreshed.expires_in,
      scope: refreshed.scope,
      idTokenOnRefresh: Boolean(refreshed.id_token),
      idTokenClaimsOnRefresh: refreshed.id_token ? claimsOf(refreshed.id_token) : undefined,
    })
    assert.equal(refreshed.expires_in, 3, 'access-token-duration changed over the admin API, applied after reset')

    const reuse = await postForm(config.serverMetadata().token_endpoint!, { grant_type: 'refresh_token', refresh_token: old, client_id: glewlwyd.clientId })
    record('refreshReuseRaw', reuse)
    assert.equal(reuse.status, 400)
    assert.equal(reuse.body, '')
    const viaClient = await client.refreshTokenGrant(config, old).then(() => 'accepted', (error: Error) => ({ name: error.name, message: error.message, code: (error as { code?: string }).code, status: (error as { status?: number }).status, cause: String((error as { cause?: unknown }).cause ?? '') }))
    record('refreshReuseOpenidClient', viaClient)

    // The reuse broke the chain: the newest refresh token is disabled too.
    const newest = await postForm(config.serverMetadata().token_endpoint!, { grant_type: 'refresh_token', refresh_token: refreshed.refresh_token!, client_id: glewlwyd.clientId })
    record('newestAfterReuseRaw', newest)
    assert.equal(newest.status, 400, 'reusing a refresh token disables the newest one of its chain')
    tokens = refreshed
  })

  test('revocation without client authentication (public client)', async () => {
    // A fresh login for a live refresh token.
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
      scope: SCOPE, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    const callback = await browserLogin(url)
    const fresh = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
    const revocationEndpoint = config.serverMetadata().revocation_endpoint!
    const raw = await postForm(revocationEndpoint, { token: fresh.refresh_token!, token_type_hint: 'refresh_token', client_id: glewlwyd.clientId })
    record('revokeRaw', raw)
    const viaClient = await client.tokenRevocation(config, fresh.refresh_token!).then(() => 'accepted', (error: Error) => ({ name: error.name, message: error.message, status: (error as { status?: number }).status }))
    record('revokeOpenidClient', viaClient)
    const stillWorks = await postForm(config.serverMetadata().token_endpoint!, { grant_type: 'refresh_token', refresh_token: fresh.refresh_token!, client_id: glewlwyd.clientId })
    record('refreshAfterRefusedRevocation', { status: stillWorks.status })
    assert.equal(raw.status, 401)
    assert.equal(raw.body, '')
    assert.equal(stillWorks.status, 200, 'the refused revocation left the refresh token valid')
  })

  test('device flow approved in Chromium', async () => {
    const started = performance.now()
    const device = await client.initiateDeviceAuthorization(config, { scope: SCOPE })
    record('deviceAuthorization', { ...device, device_code: '<redacted>' })
    const pending = await postForm(config.serverMetadata().token_endpoint!, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code, client_id: glewlwyd.clientId })
    record('devicePendingRaw', pending)
    assert.equal(pending.status, 400)
    assert.deepEqual(JSON.parse(pending.body), { error: 'authorization_pending' })
    const context = await browser.newContext({ locale: 'en-US' })
    try {
      const page = await context.newPage()
      const text = await approveDeviceWithChromium(page, device.verification_uri, device.user_code, glewlwyd.user)
      record('deviceResultPage', { url: page.url().replace(/code=[^&]+/, 'code=…'), text: text.replace(/\s+/g, ' ').slice(0, 200) })
    } finally {
      await context.close()
    }
    const deviceTokens = await client.pollDeviceAuthorizationGrant(config, device)
    record('deviceTokens', { keys: Object.keys(deviceTokens).sort(), scope: deviceTokens.scope, ms: Math.round(performance.now() - started) })
    assert.ok(deviceTokens.access_token)
    assert.ok(deviceTokens.refresh_token)
    assert.ok(deviceTokens.id_token)
    record('deviceIdTokenClaims', Object.keys(claimsOf(deviceTokens.id_token!)).sort())
  })

  /** In a fresh context: sign in through Chromium and redeem the code; the page keeps the glewlwyd session. */
  async function signedInPage(): Promise<{ page: import('playwright-core').Page; close: () => Promise<void>; idToken: string; refreshToken: string }> {
    const context = await browser.newContext({ locale: 'en-US' })
    const page = await context.newPage()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `http://127.0.0.1:${callbackPort}/callback`,
      scope: SCOPE, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    const arrived = callbacks.next()
    await signInWithChromium(page, url.href, glewlwyd.user)
    const loggedIn = await client.authorizationCodeGrant(config, await arrived, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce })
    return { page, close: () => context.close(), idToken: loggedIn.id_token!, refreshToken: loggedIn.refresh_token! }
  }

  test('end session with id_token_hint and a registered post_logout_redirect_uri', async () => {
    const { page, close, idToken } = await signedInPage()
    try {
      record('sidInIdToken', claimsOf(idToken).sid !== undefined)
      const postLogout = `http://127.0.0.1:${callbackPort}/logged-out`
      const navigations: string[] = []
      page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations.push(frame.url()) })
      const ended = await endSessionWithChromium(page, client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout, state: 'end-state' }).href)
      record('endSessionNavigations', navigations)
      record('endSessionResult', ended)
      assert.equal(ended.ended, true)
      assert.equal(ended.url, `${postLogout}?state=end-state`)
      // The glewlwyd session is gone: the next authorization asks for the password again.
      await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: `http://127.0.0.1:${callbackPort}/callback`, scope: 'openid', nonce: 'n' }).href)
      await page.locator('#username').waitFor({ timeout: 20_000 })
    } finally {
      await close()
    }
  })

  test('end session with id_token_hint only; with client_id only; with a bad hint', async () => {
    const { page, close, idToken, refreshToken } = await signedInPage()
    try {
      const clientIdOnly = await endSessionWithChromium(page, client.buildEndSessionUrl(config, { client_id: glewlwyd.clientId }).href)
      record('endSessionClientIdOnlyInBrowser', clientIdOnly)
      assert.equal(clientIdOnly.ended, false)
      const hintOnly = await endSessionWithChromium(page, client.buildEndSessionUrl(config, { id_token_hint: idToken }).href)
      record('endSessionHintOnlyInBrowser', hintOnly)
      assert.equal(hintOnly.ended, true)
      const refreshAfterEndSession = await postForm(config.serverMetadata().token_endpoint!, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: glewlwyd.clientId })
      record('refreshAfterEndSession', { status: refreshAfterEndSession.status, body: refreshAfterEndSession.body.slice(0, 40) })
      assert.deepEqual([refreshAfterEndSession.status, refreshAfterEndSession.body], [400, ''], 'ending the session disables its refresh token')
      const badHint = await endSessionWithChromium(page, client.buildEndSessionUrl(config, { id_token_hint: 'not-a-jwt' }).href)
      record('endSessionBadHintInBrowser', badHint)
    } finally {
      await close()
    }
    for (const [name, parameters] of [
      ['endSessionClientIdOnly', { client_id: glewlwyd.clientId }],
      ['endSessionNoHint', {}],
      ['endSessionBadHint', { id_token_hint: 'not-a-jwt' }],
    ] as const) {
      const answer = await fetch(client.buildEndSessionUrl(config, parameters), { redirect: 'manual' })
      const body = await answer.text()
      record(name, { status: answer.status, location: answer.headers.get('location'), body: body.slice(0, 120) })
      if (name === 'endSessionBadHint') assert.match(answer.headers.get('location') ?? '', /prompt=single_logout/)
      else assert.deepEqual([answer.status, body], [200, ''], 'without id_token_hint: 200 and an empty page')
    }
  })
})
