/**
 * DPoP-bound sessions (RFC 9449) through the library, against the kit's provider (oidc-provider,
 * `features.dPoP`) and its protected resource (which verifies proofs): login, refresh, the API
 * call, what a thief can do with a copied token, nonces at both servers, key rotation, logout.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { approveDeviceOverHttp, authorizeOverHttp, DEMO_USERS, startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { ErrorCode, ProviderError } from '../../src/index.ts'
import { libraryLogins } from '../helpers/library-logins.ts'

const PUBLIC = 'dpop-public'
const NONCE = 'dpop-nonce'
const OPTIONAL = 'dpop-optional'
let provider: TestProvider
let resource: ProtectedResource
let nonceResource: ProtectedResource
const logins = libraryLogins()

before(async () => {
  provider = await startTestProvider({
    clients: [
      { clientId: PUBLIC, dpop: true },
      { clientId: NONCE, dpop: true, dpopNonce: true },
      { clientId: OPTIONAL },
    ],
  })
  resource = await startProtectedResource({ authorizationServer: provider, path: '/api' })
  nonceResource = await startProtectedResource({ authorizationServer: provider, path: '/api', dpopNonce: true, dpop: 'required' })
  logins.closeAfter(() => provider.close())
  logins.closeAfter(() => resource.close())
  logins.closeAfter(() => nonceResource.close())
})

function sessionFile(profile: string): Promise<Record<string, unknown>> {
  return readFile(join(logins.home, 'profiles', profile, 'session.json'), 'utf8').then((text) => JSON.parse(text) as Record<string, unknown>)
}

async function call(target: ProtectedResource, token: { access_token: string; proof?: (r: { method: string; url: string; nonce?: string }) => Promise<string> }, init: { scheme?: string; proof?: string; nonce?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `${init.scheme ?? 'DPoP'} ${token.access_token}` }
  const proof = init.proof ?? (token.proof ? await token.proof({ method: 'GET', url: target.url, nonce: init.nonce }) : undefined)
  if (proof) headers.dpop = proof
  return fetch(target.url, { headers })
}

test('dpop: true binds the login to a fresh key: dpop_jkt sent, token_type DPoP, the key in the 0600 session file, status shows the jkt', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true, resource: resource.resource })
  const result = await auth.login()
  assert.equal(result.token_type, 'DPoP')
  assert.match(result.jkt ?? '', /^[A-Za-z0-9_-]{43}$/)
  const request = provider.stats.authorizationRequests.at(-1)
  assert.equal(request?.get('dpop_jkt'), result.jkt)
  const file = await sessionFile(logins.lastProfile)
  assert.equal((file.dpopKey as JsonWebKey).kty, 'EC')
  assert.equal(typeof (file.dpopKey as JsonWebKey).d, 'string')
  assert.equal(file.jkt, result.jkt)
  const status = await auth.status()
  assert.equal(status?.token_type, 'DPoP')
  assert.equal(status?.jkt, result.jkt)
  const token = await auth.getAccessToken()
  assert.equal(token.token_type, 'DPoP')
  assert.equal(typeof token.proof, 'function')
  const identity = await provider.verifyAccessToken(token.access_token)
  assert.equal(identity?.jkt, result.jkt, 'the access token is bound to the key (cnf.jkt)')
})

test('the API call with a proof succeeds; the stolen token without the key, as bearer or with a proof of another key, is refused; a replayed proof is refused', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true, resource: resource.resource })
  await auth.login()
  const token = await auth.getAccessToken()
  const proof = await token.proof!({ method: 'GET', url: resource.url })
  const ok = await call(resource, token, { proof })
  assert.equal(ok.status, 200, await ok.clone().text())
  // A thief with the token alone.
  const asBearer = await call(resource, { access_token: token.access_token }, { scheme: 'Bearer' })
  assert.equal(asBearer.status, 401)
  const noProof = await call(resource, { access_token: token.access_token })
  assert.equal(noProof.status, 401)
  const other = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true, resource: resource.resource })
  await other.login()
  const otherToken = await other.getAccessToken()
  const foreign = await otherToken.proof!({ method: 'GET', url: resource.url })
  const wrongKey = await call(resource, { access_token: token.access_token }, { proof: foreign })
  assert.equal(wrongKey.status, 401)
  // The same proof again (captured on the wire).
  const replay = await call(resource, token, { proof })
  assert.equal(replay.status, 401)
  assert.ok(resource.stats.refused.includes('DPoP proof jti replayed'), resource.stats.refused.join('; '))
  assert.ok(resource.stats.refused.includes('the DPoP proof is signed by another key than the token is bound to'))
  // A proof for another method or URL is refused too.
  const wrongUrl = await call(resource, token, { proof: await token.proof!({ method: 'GET', url: `${resource.url}/other` }) })
  assert.equal(wrongUrl.status, 401)
})

test('refresh carries a proof: the refresh token of a public client is bound, a stolen one is refused without the key', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true })
  const result = await auth.login()
  const before = await sessionFile(result.profile)
  const proofsBefore = provider.stats.dpopProofs
  const refreshed = await auth.getAccessToken({ forceRefresh: true })
  assert.equal(refreshed.token_type, 'DPoP')
  assert.equal(provider.stats.dpopProofs, proofsBefore + 1)
  assert.equal((await provider.verifyAccessToken(refreshed.access_token))?.jkt, result.jkt)
  // The stolen refresh token, redeemed without a proof (and so without the key).
  const stolen = (await sessionFile(result.profile)).refreshToken as string
  assert.notEqual(stolen, before.refreshToken, 'rotated')
  const answer = await fetch(`${provider.issuer}oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen, client_id: PUBLIC }),
  })
  assert.equal(answer.status, 400)
  assert.equal(((await answer.json()) as { error: string }).error, 'invalid_dpop_proof')
})

test('nonces: the provider asks for one (use_dpop_nonce) at the code exchange and refresh, the resource at the API; each is retried once and kept with the session', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: NONCE, storage: 'file', dpop: true, resource: nonceResource.resource })
  await auth.login()
  const profile = logins.lastProfile
  const file = await sessionFile(profile)
  const nonces = file.dpopNonces as Record<string, string>
  assert.equal(typeof nonces[new URL(provider.issuer).origin], 'string', 'the provider\'s nonce kept')
  // A fresh process (another instance) refreshes with the nonce it kept.
  const again = logins.auth({ issuer: provider.issuer, clientId: NONCE, storage: 'file', dpop: true, resource: nonceResource.resource, profile })
  const requestsBefore = provider.stats.tokenRequests
  const token = await again.getAccessToken({ forceRefresh: true })
  assert.equal(provider.stats.tokenRequests, requestsBefore + 1, 'no extra round trip for the nonce')
  // The resource's nonce: first answer use_dpop_nonce, then with it.
  const first = await call(nonceResource, token)
  assert.equal(first.status, 401)
  assert.match(first.headers.get('www-authenticate') ?? '', /^DPoP .*error="use_dpop_nonce"/)
  const nonce = first.headers.get('dpop-nonce') as string
  const second = await call(nonceResource, token, { nonce })
  assert.equal(second.status, 200)
  // Remembered: the next proof (of another process too) carries it without being told.
  const later = await logins.auth({ issuer: provider.issuer, clientId: NONCE, dpop: true, resource: nonceResource.resource, profile, storage: 'file' }).getAccessToken()
  const third = await call(nonceResource, later)
  assert.equal(third.status, 200)
  assert.equal(((await sessionFile(profile)).dpopNonces as Record<string, string>)[new URL(nonceResource.url).origin], nonce)
  // The server moves on to a new nonce: the remembered one is refused once, the new one taken and kept.
  nonceResource.rotateDpopNonce()
  const stale = await call(nonceResource, later)
  assert.equal(stale.status, 401)
  const fresh = stale.headers.get('dpop-nonce') as string
  assert.notEqual(fresh, nonce)
  assert.equal((await call(nonceResource, later, { nonce: fresh })).status, 200)
  assert.equal(((await sessionFile(profile)).dpopNonces as Record<string, string>)[new URL(nonceResource.url).origin], fresh)
})

test('a new login makes a new key; logout revokes the bound refresh token and deletes the key', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true })
  const first = await auth.login()
  const second = await auth.login()
  assert.notEqual(first.jkt, second.jkt)
  const file = await sessionFile(logins.lastProfile)
  assert.equal(file.jkt, second.jkt)
  const revocations = provider.stats.revocations
  const result = await auth.logout()
  assert.equal(result.revoked, true)
  assert.equal(provider.stats.revocations, revocations + 1)
  await assert.rejects(sessionFile(logins.lastProfile), { code: 'ENOENT' })
})

test('auto: a token endpoint that answers invalid_dpop_proof gets a proof on the same code; a client that does not need DPoP stays bearer', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file' })
  const result = await auth.login()
  assert.equal(result.token_type, 'DPoP')
  assert.equal(provider.stats.authorizationRequests.at(-1)?.get('dpop_jkt'), null, 'not known before the browser')
  const bearer = await logins.auth({ issuer: provider.issuer, clientId: OPTIONAL, storage: 'file' }).login()
  assert.equal(bearer.token_type, 'Bearer')
  assert.equal(bearer.jkt, null)
  const token = await logins.auth({ issuer: provider.issuer, clientId: OPTIONAL, profile: bearer.profile, storage: 'file' }).getAccessToken()
  assert.equal(token.proof, undefined)
})

test('auto: a resource whose metadata says dpop_bound_access_tokens_required turns DPoP on before the browser', async () => {
  const auth = logins.auth({ resource: nonceResource.url, clientId: OPTIONAL, storage: 'file' })
  const result = await auth.login()
  assert.equal(result.token_type, 'DPoP')
  assert.equal(provider.stats.authorizationRequests.at(-1)?.get('dpop_jkt'), result.jkt)
})

test('dpop: false never sends a proof: a client that requires DPoP then fails at the code exchange', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: false })
  await assert.rejects(auth.login(), (error: unknown) => error instanceof ProviderError && error.error === 'invalid_dpop_proof')
})

test('a server whose metadata lists DPoP algorithms without ES256 is refused before the browser opens', async () => {
  let opened = false
  const metadata = await (await fetch(`${provider.issuer}.well-known/openid-configuration`)).json() as Record<string, unknown>
  const withoutEs256 = { ...metadata, dpop_signing_alg_values_supported: ['EdDSA'] }
  const fakeFetch: typeof fetch = async (input, init) => {
    if (String(input).includes('/.well-known/openid-configuration')) return Response.json(withoutEs256)
    return fetch(input, init)
  }
  const auth = logins.auth({ issuer: provider.issuer, clientId: PUBLIC, storage: 'file', dpop: true, fetch: fakeFetch, openBrowser: async () => { opened = true; return { opened: true, command: 'test' } } })
  await assert.rejects(auth.login(), (error: unknown) => error instanceof ProviderError && error.error === 'dpop_unsupported' && error.code === ErrorCode.PROVIDER_ERROR)
  assert.equal(opened, false)
})

test('device flow: the polling carries proofs; the session is DPoP-bound', async () => {
  const [alice] = DEMO_USERS
  const auth = logins.auth({
    issuer: provider.issuer,
    clientId: PUBLIC,
    storage: 'file',
    dpop: true,
    device: true,
    onDeviceCode: (code) => void approveDeviceOverHttp(code.verificationUriComplete ?? code.verificationUri, { username: alice.username, password: alice.password, userCode: code.userCode }),
    openBrowser: async () => ({ opened: false, reason: 'failed', detail: 'test' }),
  })
  const proofs = provider.stats.dpopProofs
  const result = await auth.login()
  assert.equal(result.token_type, 'DPoP')
  assert.ok(provider.stats.dpopProofs > proofs)
  assert.equal((await provider.verifyAccessToken((await auth.getAccessToken()).access_token))?.jkt, result.jkt)
})

test('two steps: startLogin() keeps the key with the pending login (dpop_jkt in the URL), finishLogin() in another instance redeems with a proof of it', async () => {
  const [alice] = DEMO_USERS
  const options = { issuer: provider.issuer, clientId: PUBLIC, storage: 'file' as const, dpop: true as const }
  const first = logins.auth(options)
  const started = await first.startLogin()
  const jkt = new URL(started.url).searchParams.get('dpop_jkt')
  assert.match(jkt ?? '', /^[A-Za-z0-9_-]{43}$/)
  const address = await authorizeOverHttp(started.url, { username: alice.username, password: alice.password })
  const result = await logins.auth({ ...options, profile: logins.lastProfile }).finishLogin(address)
  assert.equal(result.token_type, 'DPoP')
  assert.equal(result.jkt, jkt)
})

test('a token endpoint that answers a proof with a bearer token ends the login with one error; nothing is stored', async () => {
  const bearerAnswer: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    if (!String(input).endsWith('/oauth/token') || response.status !== 200) return response
    const body = (await response.json()) as Record<string, unknown>
    return Response.json({ ...body, token_type: 'Bearer' }, { headers: { 'cache-control': 'no-store' } })
  }
  const auth = logins.auth({ issuer: provider.issuer, clientId: OPTIONAL, storage: 'file', dpop: true, fetch: bearerAnswer })
  await assert.rejects(auth.login(), (error: unknown) => error instanceof ProviderError && error.error === 'dpop_not_bound' && /with a bearer token, not a DPoP-bound one/i.test(error.message))
  assert.equal(await auth.status(), undefined)
})

test('auto, device flow: polling answered invalid_dpop_proof is retried with a proof of a new key; the session is DPoP-bound', async () => {
  const [alice] = DEMO_USERS
  const auth = logins.auth({
    issuer: provider.issuer,
    clientId: PUBLIC,
    storage: 'file',
    device: true,
    onDeviceCode: (code) => void approveDeviceOverHttp(code.verificationUriComplete ?? code.verificationUri, { username: alice.username, password: alice.password, userCode: code.userCode }),
    openBrowser: async () => ({ opened: false, reason: 'failed', detail: 'test' }),
  })
  const result = await auth.login()
  assert.equal(result.token_type, 'DPoP')
  assert.equal((await provider.verifyAccessToken((await auth.getAccessToken()).access_token))?.jkt, result.jkt)
})

test('auth.fetch() with a DPoP session: the DPoP scheme and a fresh proof per request, the resource\'s nonce retried once; the stolen token alone is refused', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: NONCE, storage: 'file', dpop: true, resource: nonceResource.resource })
  await auth.login()
  nonceResource.rotateDpopNonce()
  const refusedBefore = nonceResource.stats.refused.length
  const first = await auth.fetch(nonceResource.url)
  assert.equal(first.status, 200, await first.clone().text())
  assert.deepEqual(nonceResource.stats.refused.slice(refusedBefore), ['the DPoP proof needs this server\'s nonce'], 'one use_dpop_nonce, then the retry')
  const second = await auth.fetch(nonceResource.url)
  assert.equal(second.status, 200)
  assert.equal(nonceResource.stats.refused.length, refusedBefore + 1, 'the nonce remembered: no second challenge')
  const { access_token } = await auth.getAccessToken()
  assert.equal((await fetch(nonceResource.url, { headers: { authorization: `DPoP ${access_token}` } })).status, 401)
})
