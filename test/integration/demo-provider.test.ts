/**
 * The test kit's provider (clilogin-testkit) against openid-client v6 used directly: no cli-login code.
 * The "browser" is the kit's browser double (plus one real Chromium run).
 *
 * Every assert.ok has a message: without one, a failing assert.ok makes Node re-parse the
 * (single-line, tsx-compiled) source to describe the expression, which takes minutes.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import * as client from 'openid-client'
import {
  DEMO_AUDIENCE,
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_CONFIDENTIAL_CLIENT_ID,
  DEMO_USERS,
  startTestProvider as startDemoProvider,
  type TestProvider as DemoProvider,
} from 'clilogin-testkit'
import { approveDeviceInChromium, launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { approveDeviceOverHttp, authorizeOverHttp, loginOverHttp, type HttpLoginOptions } from '../helpers/http-browser.ts'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const SCOPE = 'openid profile email offline_access'
const [alice, bob] = DEMO_USERS

let provider: DemoProvider
let config: client.Configuration

before(async () => {
  provider = await startDemoProvider()
  config = await discover()
})

after(async () => {
  await provider?.close()
})

function discover(clientId = DEMO_CLIENT_ID, auth?: client.ClientAuth): Promise<client.Configuration> {
  return client.discovery(new URL(provider.issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  })
}

interface CallbackServer { port: number; requests: URL[]; close(): Promise<void> }

/** The loopback redirect target: answers every request with a small page and records its URL. */
async function startCallbackServer(): Promise<CallbackServer> {
  const requests: URL[] = []
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push(new URL(req.url ?? '/', `http://${req.headers.host}`))
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<!DOCTYPE html><title>done</title><body><p>Login complete, you can close this window.</p></body>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

interface Attempt { url: URL; verifier: string; state: string }

async function newAttempt(configuration: client.Configuration, redirectUri: string, extra: Record<string, string> = {}): Promise<Attempt> {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  })
  return { url, verifier, state }
}

function redeem(configuration: client.Configuration, attempt: Attempt, callbackUrl: string) {
  return client.authorizationCodeGrant(configuration, new URL(callbackUrl), {
    pkceCodeVerifier: attempt.verifier,
    expectedState: attempt.state,
  })
}

/** A whole login through the HTTP browser, with a random port that nobody registered. */
async function loginWithTokens(
  options: { user?: HttpLoginOptions; extra?: Record<string, string>; configuration?: client.Configuration } = {},
) {
  const configuration = options.configuration ?? config
  const redirectUri = `http://127.0.0.1:${40_000 + Math.floor(Math.random() * 20_000)}/callback`
  const attempt = await newAttempt(configuration, redirectUri, options.extra)
  const callbackUrl = await authorizeOverHttp(attempt.url.href, options.user ?? { username: alice.username, password: alice.password })
  return redeem(configuration, attempt, callbackUrl)
}

async function apiMe(accessToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL('api/me', provider.issuer), { headers: { authorization: `Bearer ${accessToken}` } })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

async function rejection(promise: Promise<unknown>): Promise<client.ResponseBodyError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof client.ResponseBodyError, `expected a ResponseBodyError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a rejection')
}

describe('demo provider', () => {
  test('discovery has the Auth0-style endpoints, S256 and the iss parameter', () => {
    const metadata = config.serverMetadata()
    const issuer = provider.issuer
    assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    assert.equal(metadata.issuer, issuer)
    assert.equal(metadata.authorization_endpoint, `${issuer}authorize`)
    assert.equal(metadata.token_endpoint, `${issuer}oauth/token`)
    assert.equal(metadata.revocation_endpoint, `${issuer}oauth/revoke`)
    assert.equal(metadata.device_authorization_endpoint, `${issuer}oauth/device/code`)
    assert.equal(metadata.userinfo_endpoint, `${issuer}userinfo`)
    assert.equal(metadata.jwks_uri, `${issuer}.well-known/jwks.json`)
    assert.equal(metadata.end_session_endpoint, `${issuer}oidc/logout`)
    assert.equal(metadata.authorization_response_iss_parameter_supported, true)
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256'])
    assert.ok(metadata.grant_types_supported?.includes(DEVICE_GRANT), 'device grant advertised')
  })

  test('PKCE is required', async () => {
    const url = new URL(config.serverMetadata().authorization_endpoint ?? '')
    url.search = new URLSearchParams({
      client_id: DEMO_CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:50001/callback', state: 's',
    }).toString()
    const response = await fetch(url, { redirect: 'manual' })
    const location = new URL(response.headers.get('location') ?? '')
    assert.equal(location.origin, 'http://127.0.0.1:50001')
    assert.equal(location.searchParams.get('error'), 'invalid_request')
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/)
  })

  test('code + PKCE login over a random loopback port, ID token, refresh without prompt=consent, rotation and reuse detection', async () => {
    const callbackServer = await startCallbackServer()
    try {
      const redirectUri = `http://127.0.0.1:${callbackServer.port}/callback`
      const grantsBefore = provider.stats.grants.authorization_code ?? 0
      const attempt = await newAttempt(config, redirectUri)
      const callback = await loginOverHttp(attempt.url.href, { username: alice.username, password: alice.password })

      assert.equal(callback.status, 200)
      assert.match(callback.body, /Login complete/)
      assert.equal(callbackServer.requests.length, 1)
      const received = callbackServer.requests[0]
      assert.equal(received.pathname, '/callback')
      assert.equal(received.searchParams.get('state'), attempt.state)
      assert.equal(received.searchParams.get('iss'), provider.issuer)
      assert.ok(received.searchParams.get('code'), 'code in the callback')

      const sent = provider.stats.authorizationRequests.at(-1)
      assert.equal(sent?.get('code_challenge_method'), 'S256')
      assert.equal(sent?.get('state'), attempt.state)
      assert.equal(sent?.get('prompt'), null)

      const tokens = await redeem(config, attempt, callback.url)
      assert.equal(provider.stats.grants.authorization_code, grantsBefore + 1)
      const claims = tokens.claims()
      assert.equal(claims?.sub, alice.sub)
      assert.equal(claims?.email, alice.email)
      assert.equal(claims?.name, alice.name)
      assert.ok(tokens.refresh_token, 'offline_access without prompt=consent gives a refresh token')
      assert.equal(tokens.token_type.toLowerCase(), 'bearer')
      assert.ok((tokens.expires_in ?? 0) > 500, `expires_in ${tokens.expires_in}`)

      // Opaque access token: usable at /userinfo and at the demo API.
      assert.equal(tokens.access_token.split('.').length, 1)
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, alice.sub)
      assert.equal(userinfo.email, alice.email)
      assert.deepEqual(await apiMe(tokens.access_token), { status: 200, body: { sub: alice.sub, name: alice.name, email: alice.email } })
      assert.equal((await provider.verifyAccessToken(tokens.access_token))?.sub, alice.sub)

      // Rotation.
      const refreshErrorsBefore = provider.stats.refreshErrors
      const first = tokens.refresh_token
      const refreshed = await client.refreshTokenGrant(config, first)
      assert.ok(refreshed.refresh_token, 'rotated refresh token')
      assert.notEqual(refreshed.refresh_token, first)
      assert.equal(refreshed.claims()?.sub, alice.sub)
      assert.equal((await provider.verifyAccessToken(refreshed.access_token))?.sub, alice.sub)

      // Reuse of the rotated token revokes the whole grant: the newer token and its access token die too.
      const reused = await rejection(client.refreshTokenGrant(config, first))
      assert.equal(reused.error, 'invalid_grant')
      const newer = await rejection(client.refreshTokenGrant(config, refreshed.refresh_token))
      assert.equal(newer.error, 'invalid_grant')
      assert.equal(provider.stats.refreshErrors, refreshErrorsBefore + 2)
      assert.equal(await provider.verifyAccessToken(refreshed.access_token), undefined)
      assert.equal((await apiMe(refreshed.access_token)).status, 401)
    } finally {
      await callbackServer.close()
    }
  })

  test('localhost redirect on another port and path; prompt=login still gives a refresh token', async () => {
    const port = 40_000 + Math.floor(Math.random() * 20_000)
    const attempt = await newAttempt(config, `http://localhost:${port}/cb`, { prompt: 'login' })
    const callbackUrl = await authorizeOverHttp(attempt.url.href, { username: bob.username, password: bob.password })
    assert.ok(callbackUrl.startsWith(`http://localhost:${port}/cb?`), callbackUrl)
    assert.equal(provider.stats.authorizationRequests.at(-1)?.get('prompt'), 'login')
    const tokens = await redeem(config, attempt, callbackUrl)
    assert.equal(tokens.claims()?.sub, bob.sub)
    assert.ok(tokens.refresh_token, 'refresh token')
  })

  test('an unregistered redirect path is refused', async () => {
    const attempt = await newAttempt(config, 'http://127.0.0.1:50002/not-registered')
    const response = await fetch(attempt.url, { redirect: 'manual', headers: { accept: 'text/html' } })
    assert.equal(response.status, 400)
    assert.match(await response.text(), /redirect_uri/)
  })

  test('audience gives a JWT access token for the API, also after refresh', async () => {
    const tokens = await loginWithTokens({ extra: { audience: DEMO_AUDIENCE } })
    assert.equal(provider.stats.authorizationRequests.at(-1)?.get('audience'), DEMO_AUDIENCE)
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt')
    const payload = decodeJwt(tokens.access_token)
    assert.equal(payload.aud, DEMO_AUDIENCE)
    assert.equal(payload.sub, alice.sub)
    assert.equal(payload.iss, provider.issuer)
    assert.equal(tokens.claims()?.email, alice.email)
    assert.ok(tokens.refresh_token, 'refresh token')

    const verified = await provider.verifyAccessToken(tokens.access_token)
    assert.equal(verified?.sub, alice.sub)
    assert.equal(verified?.aud, DEMO_AUDIENCE)
    assert.equal((await apiMe(tokens.access_token)).status, 200)

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '')
    assert.equal(decodeJwt(refreshed.access_token).aud, DEMO_AUDIENCE)
    assert.equal((await provider.verifyAccessToken(refreshed.access_token))?.aud, DEMO_AUDIENCE)

    // A token that is not for the API (an ID token) or is tampered with is refused.
    assert.equal(await provider.verifyAccessToken(tokens.id_token ?? ''), undefined)
    assert.equal(await provider.verifyAccessToken(`${refreshed.access_token.slice(0, -2)}AA`), undefined)
    assert.deepEqual(await apiMe('not-a-token'), { status: 401, body: { error: 'invalid_token' } })
  })

  test('an unknown audience is refused', async () => {
    const attempt = await newAttempt(config, 'http://127.0.0.1:50003/callback', { audience: 'https://unknown.example/' })
    const response = await fetch(attempt.url, { redirect: 'manual' })
    assert.equal(new URL(response.headers.get('location') ?? '').searchParams.get('error'), 'invalid_target')
  })

  test('revocation of the refresh token ends the grant', async () => {
    const tokens = await loginWithTokens()
    const revocationsBefore = provider.stats.revocations
    await client.tokenRevocation(config, tokens.refresh_token ?? '', { token_type_hint: 'refresh_token' })
    assert.equal(provider.stats.revocations, revocationsBefore + 1)
    assert.equal((await rejection(client.refreshTokenGrant(config, tokens.refresh_token ?? ''))).error, 'invalid_grant')
    assert.equal(await provider.verifyAccessToken(tokens.access_token), undefined)
  })

  test('the confidential client authenticates with client_secret_post and client_secret_basic', async () => {
    const postConfig = await discover(DEMO_CONFIDENTIAL_CLIENT_ID, client.ClientSecretPost(DEMO_CLIENT_SECRET))
    const tokens = await loginWithTokens({ configuration: postConfig })
    assert.ok(tokens.refresh_token, 'refresh token')
    const basicConfig = await discover(DEMO_CONFIDENTIAL_CLIENT_ID, client.ClientSecretBasic(DEMO_CLIENT_SECRET))
    const refreshed = await client.refreshTokenGrant(basicConfig, tokens.refresh_token ?? '')
    assert.ok(refreshed.access_token, 'access token from refresh')
    const wrongConfig = await discover(DEMO_CONFIDENTIAL_CLIENT_ID, client.ClientSecretPost('wrong'))
    assert.equal((await rejection(client.refreshTokenGrant(wrongConfig, refreshed.refresh_token ?? ''))).error, 'invalid_client')
  })

  test('cancel on sign-in and deny on consent send access_denied; a wrong password shows the form again', async () => {
    for (const action of ['cancel', 'deny'] as const) {
      const attempt = await newAttempt(config, 'http://127.0.0.1:50004/callback')
      const callbackUrl = new URL(await authorizeOverHttp(attempt.url.href, { username: alice.username, password: alice.password, action }))
      assert.equal(callbackUrl.searchParams.get('error'), 'access_denied', action)
      assert.ok(callbackUrl.searchParams.get('error_description'), action)
      assert.equal(callbackUrl.searchParams.get('state'), attempt.state)
      assert.equal(callbackUrl.searchParams.get('iss'), provider.issuer)
    }
    const attempt = await newAttempt(config, 'http://127.0.0.1:50004/callback')
    await assert.rejects(authorizeOverHttp(attempt.url.href, { username: alice.username, password: 'wrong' }), /sign-in failed.*Wrong username or password/)
  })

  test('device flow approved over HTTP (typing the code) and denied (complete URI)', async () => {
    const grantsBefore = provider.stats.grants[DEVICE_GRANT] ?? 0
    const approved = await client.initiateDeviceAuthorization(config, { scope: SCOPE })
    assert.equal(approved.verification_uri, `${provider.issuer}activate`)
    assert.equal(approved.interval, 1)
    assert.equal(new URL(approved.verification_uri_complete ?? '').searchParams.get('user_code'), approved.user_code)
    await approveDeviceOverHttp(approved.verification_uri, { username: bob.username, password: bob.password, userCode: approved.user_code })
    const tokens = await client.pollDeviceAuthorizationGrant(config, approved, undefined, { signal: AbortSignal.timeout(10_000) })
    assert.equal(tokens.claims()?.sub, bob.sub)
    assert.ok(tokens.refresh_token, 'refresh token')
    assert.equal(provider.stats.grants[DEVICE_GRANT], grantsBefore + 1)

    const denied = await client.initiateDeviceAuthorization(config, { scope: SCOPE })
    await approveDeviceOverHttp(denied.verification_uri_complete ?? '', { username: bob.username, password: bob.password, action: 'deny' })
    const error = await rejection(client.pollDeviceAuthorizationGrant(config, denied, undefined, { signal: AbortSignal.timeout(10_000) }))
    assert.equal(error.error, 'access_denied')
  })

  test('deviceSlowDown answers the next device polls with slow_down, then polls are handled normally', async () => {
    const { refresh_token: refreshToken = '' } = await loginWithTokens()
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid' })
    const pollsBefore = provider.stats.deviceTokenPolls.length
    provider.faults.deviceSlowDown = 1
    try {
      // Other grants pass untouched while the fault is armed (the body is peeked, not consumed).
      assert.ok((await client.refreshTokenGrant(config, refreshToken)).access_token, 'refresh while slow_down is armed')
      assert.equal(provider.faults.deviceSlowDown, 1)
      const slowed = await rejection(client.genericGrantRequest(config, DEVICE_GRANT, { device_code: device.device_code }))
      assert.equal(slowed.error, 'slow_down')
      assert.equal(slowed.status, 400)
      assert.equal(provider.faults.deviceSlowDown, 0)
      const pending = await rejection(client.genericGrantRequest(config, DEVICE_GRANT, { device_code: device.device_code }))
      assert.equal(pending.error, 'authorization_pending')
      assert.equal(provider.stats.deviceTokenPolls.length, pollsBefore + 2)
      assert.ok(provider.stats.deviceTokenPolls.every((at) => typeof at === 'number' && at <= Date.now()), 'poll timestamps')
    } finally {
      provider.faults.deviceSlowDown = undefined
    }
  })

  test('tokenEndpoint fault answers instead of the token endpoint', async () => {
    const tokens = await loginWithTokens()
    const requestsBefore = provider.stats.tokenRequests
    provider.faults.tokenEndpoint = { status: 502, body: '<html><body>Bad gateway</body></html>', contentType: 'text/html' }
    try {
      const failure = await client.refreshTokenGrant(config, tokens.refresh_token ?? '').then(() => undefined, (error: unknown) => error)
      assert.ok(failure instanceof Error, `expected an error, got ${String(failure)}`)
      assert.ok(!(failure instanceof client.ResponseBodyError), 'not an OAuth error response')
      const raw = await fetch(config.serverMetadata().token_endpoint ?? '', { method: 'POST', body: new URLSearchParams({ grant_type: 'x' }) })
      assert.equal(raw.status, 502)
      assert.match(raw.headers.get('content-type') ?? '', /^text\/html/)
      assert.equal(await raw.text(), '<html><body>Bad gateway</body></html>')
      assert.equal(provider.stats.tokenRequests, requestsBefore + 2)
    } finally {
      provider.faults.tokenEndpoint = undefined
    }
    // The refresh token was never seen by the real endpoint: it still works.
    assert.ok((await client.refreshTokenGrant(config, tokens.refresh_token ?? '')).access_token, 'refresh after the fault')
  })

  test('authorizationResponseIss fault makes openid-client refuse the response before redeeming the code', async () => {
    const attempt = await newAttempt(config, 'http://127.0.0.1:50005/callback')
    provider.faults.authorizationResponseIss = 'https://attacker.example/'
    let callbackUrl: string
    try {
      callbackUrl = await authorizeOverHttp(attempt.url.href, { username: alice.username, password: alice.password })
    } finally {
      provider.faults.authorizationResponseIss = undefined
    }
    assert.equal(new URL(callbackUrl).searchParams.get('iss'), 'https://attacker.example/')
    const grantsBefore = { ...provider.stats.grants }
    const requestsBefore = provider.stats.tokenRequests
    await assert.rejects(redeem(config, attempt, callbackUrl), (error: Error) => {
      assert.match(String((error.cause as Error | undefined)?.message), /"iss"/)
      return true
    })
    assert.deepEqual(provider.stats.grants, grantsBefore)
    assert.equal(provider.stats.tokenRequests, requestsBefore)
  })

  test('rp-initiated logout accepts id_token_hint or client_id', async () => {
    const tokens = await loginWithTokens()
    for (const parameters of [{ id_token_hint: tokens.id_token ?? '' }, { client_id: DEMO_CLIENT_ID }] as Array<Record<string, string>>) {
      const url = client.buildEndSessionUrl(config, { ...parameters, post_logout_redirect_uri: 'http://127.0.0.1:4242/callback' })
      assert.equal(url.origin + url.pathname, `${provider.issuer}oidc/logout`)
      const response = await fetch(url, { redirect: 'manual' })
      assert.equal(response.status, 200, JSON.stringify(parameters))
      assert.match(await response.text(), /<form method="post" action="[^"]*\/oidc\/logout\/confirm"/)
    }
    const bogus = await fetch(client.buildEndSessionUrl(config, { id_token_hint: 'not.a.jwt' }), { redirect: 'manual', headers: { accept: 'text/html' } })
    assert.equal(bogus.status, 400)
  })

  test('real Chromium signs in, consents and lands on the loopback callback; and approves a device', async () => {
    const callbackServer = await startCallbackServer()
    const browser = await launchChromium()
    try {
      const attempt = await newAttempt(config, `http://127.0.0.1:${callbackServer.port}/callback`)
      const page = await loginInChromium(browser, attempt.url.href, { username: alice.username, password: alice.password })
      assert.equal(page.status, 200)
      assert.match(page.text, /Login complete/)
      assert.ok(page.url.startsWith(`http://127.0.0.1:${callbackServer.port}/callback?`), page.url)
      const tokens = await redeem(config, attempt, page.url)
      assert.equal(tokens.claims()?.sub, alice.sub)

      const device = await client.initiateDeviceAuthorization(config, { scope: SCOPE })
      await approveDeviceInChromium(browser, device.verification_uri_complete ?? '', { username: bob.username, password: bob.password })
      const deviceTokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { signal: AbortSignal.timeout(10_000) })
      assert.equal(deviceTokens.claims()?.sub, bob.sub)
    } finally {
      await browser.close()
      await callbackServer.close()
    }
  })

  test('stats count every token request and authorization request', () => {
    const { stats } = provider
    assert.ok(stats.tokenRequests >= Object.values(stats.grants).reduce((sum, count) => sum + count, 0), 'token requests >= grants')
    assert.ok(stats.authorizationRequests.length >= 10, `${stats.authorizationRequests.length} authorization requests`)
    assert.ok(stats.authorizationRequests.every((query) => query.get('client_id') !== null), 'client_id in every authorization request')
    assert.ok((stats.grants.refresh_token ?? 0) >= 3, `${stats.grants.refresh_token} refresh grants`)
    assert.ok(stats.refreshErrors >= 3, `${stats.refreshErrors} refresh errors`)
  })
})
