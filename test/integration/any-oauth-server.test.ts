/**
 * "Any OAuth 2 server, zero configuration" through the library, against the test kit's real
 * oidc-provider (registration, resource indicators, plain OAuth 2 mode) and its protected resource,
 * signing in with the browser double.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ErrorCode, LoginRequiredError, type CliLoginError } from '../../src/index.ts'
import { createBrowserDouble, startProtectedResource, startTestProvider, DEMO_CLIENT_ID, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { libraryLogins } from '../helpers/library-logins.ts'

const logins = libraryLogins()
const auth = logins.auth

async function provider(options: Parameters<typeof startTestProvider>[0] = {}): Promise<TestProvider> {
  const started = await startTestProvider({ registration: true, ...options })
  logins.closeAfter(() => started.close())
  return started
}

async function resource(options: Omit<Parameters<typeof startProtectedResource>[0], 'authorizationServer'>, as: TestProvider): Promise<ProtectedResource> {
  const started = await startProtectedResource({ authorizationServer: as, ...options })
  logins.closeAfter(() => started.close())
  return started
}

async function callApi(api: ProtectedResource, token: string, method = 'GET'): Promise<number> {
  const response = await fetch(api.url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }) : undefined,
  })
  await response.arrayBuffer()
  return response.status
}

test('from the resource URL alone (401 header): finds the server, registers, sends resource, and the token opens the API', async () => {
  const as = await provider()
  const api = await resource({ metadataDiscovery: 'header' }, as)
  const login = auth({ resource: api.url })
  const status = await login.login()
  assert.equal(status.issuer, as.issuer)
  assert.equal(status.claims, null, 'no openid asked: a plain OAuth 2 session')
  assert.equal(status.has_refresh_token, true)
  assert.equal(status.resource, api.resource, "status names the login's resource")
  assert.equal(as.stats.registrations, 1)
  const authorization = as.stats.authorizationRequests.at(-1)
  assert.equal(authorization?.get('scope'), 'mcp:tools offline_access', "the 401's scope, and offline_access the server lists")
  assert.equal(authorization?.get('resource'), api.resource)
  assert.equal(authorization?.get('client_id') === DEMO_CLIENT_ID, false)
  const { access_token } = await login.getAccessToken()
  assert.equal(await callApi(api, access_token), 200)
  assert.equal(api.stats.requests['GET /.well-known/oauth-protected-resource/mcp'], undefined, 'the header named the metadata')
})

test('from the resource URL alone (MCP server, well-known metadata): server/discover and initialize POSTs, then the well-known URL', async () => {
  const as = await provider()
  const api = await resource({ metadataDiscovery: 'well-known', protocol: 'mcp' }, as)
  const login = auth({ resource: api.url })
  await login.login()
  assert.equal(api.stats.requests['GET /mcp'], 1)
  assert.equal(api.stats.requests['POST /mcp'], 2, 'a 401 without resource_metadata to server/discover: initialize is tried too')
  assert.equal(api.stats.requests['GET /.well-known/oauth-protected-resource/mcp'], 1)
  const { access_token } = await login.getAccessToken()
  assert.equal(await callApi(api, access_token, 'POST'), 200)
})

test('the registration is reused by the next login, and made again once the server has forgotten it', async () => {
  const as = await provider()
  const api = await resource({}, as)
  const login = auth({ resource: api.url })
  await login.login()
  const first = as.stats.authorizationRequests.at(-1)?.get('client_id')
  await login.login()
  assert.equal(as.stats.registrations, 1, 'reused')
  assert.equal(as.stats.authorizationRequests.at(-1)?.get('client_id'), first)

  assert.equal(as.forgetClient(first as string), true)
  const browser = createBrowserDouble()
  await auth({ resource: api.url, profile: logins.lastProfile }, browser).login()
  assert.equal(as.stats.registrations, 2, 'registered again')
  assert.equal(browser.urls.length, 1, 'noticed before the browser opened: one browser visit')
  const second = as.stats.authorizationRequests.at(-1)?.get('client_id')
  assert.notEqual(second, first)
  const { access_token } = await login.getAccessToken({ forceRefresh: true })
  assert.equal(await callApi(api, access_token), 200)
})

test('a registration the token endpoint no longer knows (invalid_client): registered again, once, and a second browser visit', async () => {
  const as = await provider()
  const api = await resource({}, as)
  const browser = createBrowserDouble()
  as.faults.tokenEndpoint = { status: 401, body: '{"error":"invalid_client","error_description":"client not found"}', times: 1 }
  const status = await auth({ resource: api.url }, browser).login()
  assert.equal(status.has_refresh_token, true)
  assert.equal(as.stats.registrations, 2)
  assert.equal(browser.urls.length, 2)
  const clients = as.stats.authorizationRequests.map((query) => query.get('client_id'))
  assert.notEqual(clients[0], clients.at(-1))
})

test('an interrupted login, then a successful one on another port of the range, with the same registration', async () => {
  const as = await provider()
  const api = await resource({}, as)
  await auth({ resource: api.url }).login()
  const profile = logins.lastProfile
  const client = as.stats.authorizationRequests.at(-1)?.get('client_id')
  const interrupted = auth({ resource: api.url, profile, timeoutS: 0.5, openBrowser: async () => ({ opened: false, reason: 'disabled' }) })
  await assert.rejects(interrupted.login(), (error: CliLoginError) => error.code === ErrorCode.LOGIN_TIMEOUT)
  const { occupyPorts } = await import('../helpers/ports.ts')
  const release = await occupyPorts([logins.firstPort])
  try {
    await auth({ resource: api.url, profile }).login()
  } finally {
    await release()
  }
  assert.equal(as.stats.registrations, 1)
  assert.equal(as.stats.authorizationRequests.at(-1)?.get('client_id'), client)
  const redirect = new URL(as.stats.authorizationRequests.at(-1)?.get('redirect_uri') as string)
  assert.equal(redirect.port, String(logins.firstPort + 1))
})

test('refresh sends the resource again and still gets a token for the API', async () => {
  const as = await provider()
  const api = await resource({}, as)
  const tokenRequests: URLSearchParams[] = []
  const spy: typeof fetch = (input, init) => {
    if (String(input).endsWith('/oauth/token')) tokenRequests.push(new URLSearchParams(String(init?.body)))
    return fetch(input, init)
  }
  const login = auth({ resource: api.url, fetch: spy })
  await login.login()
  const { access_token } = await login.getAccessToken({ forceRefresh: true })
  assert.equal(as.stats.grants.refresh_token, 1)
  assert.deepEqual(tokenRequests.map((form) => [form.get('grant_type'), form.get('resource')]), [
    ['authorization_code', api.resource],
    ['refresh_token', api.resource],
  ])
  assert.equal(await callApi(api, access_token), 200)
  // Asking for the login's own resource is the session's own token: no refresh.
  assert.equal((await login.getAccessToken({ resource: api.resource })).access_token, access_token)
  assert.equal(as.stats.grants.refresh_token, 1)
  // A library instance for another API refuses this session.
  await assert.rejects(auth({ resource: 'https://other.example/mcp', profile: logins.lastProfile }).getAccessToken(), LoginRequiredError)
})

test('a plain OAuth 2 server (RFC 8414 only): --issuer works, the session has no ID token, status names nobody', async () => {
  const as = await provider({ discovery: 'oauth2' })
  const login = auth({ issuer: as.issuer, clientId: DEMO_CLIENT_ID })
  const status = await login.login()
  assert.equal(status.subject, null)
  assert.equal(status.claims, null)
  assert.equal(status.scope, 'offline_access')
  assert.equal(as.stats.requests['GET /.well-known/oauth-authorization-server'], 1)
  await login.getAccessToken({ forceRefresh: true })
  assert.equal(as.stats.grants.refresh_token, 1)
  const out = await login.logout()
  assert.deepEqual({ deleted: out.deleted, revoked: out.revoked }, { deleted: true, revoked: true })
})

test('no client id and no registration at the server: a usage error before any browser', async () => {
  const as = await provider({ registration: false })
  const browser = createBrowserDouble()
  await assert.rejects(auth({ issuer: as.issuer }, browser).login(), (error: CliLoginError) => error.code === ErrorCode.USAGE && /client/.test(error.message))
  assert.equal(browser.urls.length, 0)
})

test('a server without metadata: explicit endpoints; the issuer is the token endpoint origin; refresh and revocation work', async () => {
  const as = await provider()
  const origin = as.issuer.replace(/\/$/, '')
  const login = auth({
    clientId: DEMO_CLIENT_ID,
    authorizationEndpoint: `${origin}/authorize`,
    tokenEndpoint: `${origin}/oauth/token`,
    revocationEndpoint: `${origin}/oauth/revoke`,
    scope: 'offline_access',
  })
  const discoveries = as.stats.requests['GET /.well-known/openid-configuration'] ?? 0
  const status = await login.login()
  assert.equal(status.issuer, origin)
  assert.equal(status.has_refresh_token, true)
  await login.getAccessToken({ forceRefresh: true })
  assert.equal(as.stats.grants.refresh_token, 1)
  assert.equal((await login.logout()).revoked, true)
  assert.equal(as.stats.requests['GET /.well-known/openid-configuration'] ?? 0, discoveries, 'no discovery at all')
})

test('a server that takes Client ID Metadata Documents: the tool’s document URL is the client id, nothing is registered', async () => {
  const as = await provider()
  const withCimd: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    if (!String(input).endsWith('/.well-known/openid-configuration')) return response
    const metadata = (await response.json()) as Record<string, unknown>
    return Response.json({ ...metadata, client_id_metadata_document_supported: true })
  }
  const urls: string[] = []
  const login = auth({
    issuer: as.issuer,
    clientMetadataUrl: 'https://acme.example/oauth/client.json',
    fetch: withCimd,
    timeoutS: 0.3,
    openBrowser: async (url) => {
      urls.push(url)
      return { opened: false, reason: 'disabled' }
    },
  })
  await assert.rejects(login.login(), (error: CliLoginError) => error.code === ErrorCode.LOGIN_TIMEOUT)
  assert.equal(new URL(urls[0]).searchParams.get('client_id'), 'https://acme.example/oauth/client.json')
  assert.equal(as.stats.registrations, 0)
})

test('--issuer with --resource: the resource is only sent (never looked up), and the profile memory sends it again', async () => {
  const as = await provider()
  const api = await resource({}, as)
  await auth({ issuer: as.issuer, clientId: DEMO_CLIENT_ID, resource: api.resource, rememberSettings: true }).login()
  assert.equal(as.stats.authorizationRequests.at(-1)?.get('resource'), api.resource)
  const again = auth({ rememberSettings: true, profile: logins.lastProfile })
  await again.login()
  assert.equal(as.stats.authorizationRequests.at(-1)?.get('resource'), api.resource)
  assert.deepEqual(api.stats.requests, {}, 'the resource itself was never asked')
  const { access_token } = await again.getAccessToken()
  assert.equal(await callApi(api, access_token), 200)
})
