/**
 * PRODUCT.md "MCP servers" through the library, against a scripted MCP server and authorization
 * server (test/helpers/scripted-mcp-server.ts) that answer as real servers do where the test kit's
 * oidc-provider never would: registrations, the scope rule, probes of known clients, Basic client
 * authentication, the 2026-07-28 discovery and the 2025-03-26 fallbacks, the metadata's issuer,
 * RFC 9207 `iss`, and a resource that moves to another authorization server.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createBrowserDouble } from 'clilogin-testkit'
import { ProviderError, type CliLoginOptions } from '../../src/index.ts'
import { libraryLogins } from '../helpers/library-logins.ts'
import { startScriptedMcpServer, type ScriptedConfig, type ScriptedMcpServer } from '../helpers/scripted-mcp-server.ts'

const logins = libraryLogins({ storage: 'file', timeoutS: 10 })
const auth = logins.auth

async function scripted(config: Partial<ScriptedConfig> = {}): Promise<ScriptedMcpServer> {
  const server = await startScriptedMcpServer(config)
  logins.closeAfter(() => server.close())
  return server
}

/** A browser that only records the URL: the login then times out (for what the URL alone shows). */
async function authorizationUrlOf(options: Partial<CliLoginOptions>): Promise<URL> {
  let seen: string | undefined
  await assert.rejects(auth({ ...options, timeoutS: 0.5, openBrowser: async (url) => ((seen = url), { opened: true, command: 'recorder' }) }).login())
  assert.ok(seen, 'the browser was opened')
  return new URL(seen)
}

const authorizations = (server: ScriptedMcpServer) => server.requests.filter((r) => r.path === '/authorize')
const sessionFile = (profile: string) => join(logins.home, 'profiles', profile, 'session.json')

test('a registration with a client secret but no client_secret_expires_at: taken as not expiring, and the secret authenticates the client', async () => {
  const server = await scripted({
    registrationAnswer: (request, clientId) => ({ status: 201, body: { client_id: clientId, client_secret: 'shh', redirect_uris: request.redirect_uris } }),
  })
  const login = auth({ resource: server.mcpUrl })
  await login.login()
  const [clientId, secret] = [...server.clients][0]
  const session = JSON.parse(await readFile(sessionFile(login.profile), 'utf8')) as { clientId: string; clientSecret?: string }
  assert.equal(session.clientId, clientId)
  assert.equal(session.clientSecret, secret)
  const exchange = server.requests.find((r) => r.path === '/token')
  assert.equal(new URLSearchParams(exchange?.body).get('client_secret'), secret)
})

test('a registration the server answers wrongly or refuses: the message names the field or the status', async () => {
  const cases: Array<[ScriptedConfig['registrationAnswer'], RegExp]> = [
    [() => ({ status: 201, body: { client_secret: 'x' } }), /the client registration failed: the provider's answer has its "client_id" must be a string/],
    [() => ({ status: 201, body: { client_id: 'c', client_secret: 'x', client_secret_expires_at: 'soon' } }), /"client_secret_expires_at" must be a number/],
    [() => ({ status: 500, body: 'database down' }), /the client registration with HTTP 500/],
    [() => ({ status: 400, body: { error: 'invalid_redirect_uri', error_description: 'loopback only' } }), /the client registration with invalid_redirect_uri: loopback only/],
  ]
  for (const [registrationAnswer, message] of cases) {
    const server = await scripted({ registrationAnswer })
    await assert.rejects(auth({ resource: server.mcpUrl }).login(), (error: Error) => {
      assert.ok(error instanceof ProviderError, String(error))
      assert.match(error.message, message)
      assert.doesNotMatch(error.message, /invalid response encountered/)
      return true
    })
    assert.equal(authorizations(server).length, 0, 'no browser after a failed registration')
  }
})

test('scope with --resource: the challenge, else the resource metadata, else nothing; offline_access only where listed; a nonce only with openid', async () => {
  const none = await scripted()
  let url = await authorizationUrlOf({ resource: none.mcpUrl })
  assert.equal(url.searchParams.has('scope'), false, 'nothing names a scope: no scope parameter')
  assert.equal(url.searchParams.has('nonce'), false)

  const offline = await scripted({ metadata: { scopes_supported: ['mcp:tools', 'offline_access'] } })
  url = await authorizationUrlOf({ resource: offline.mcpUrl })
  assert.equal(url.searchParams.get('scope'), 'offline_access')

  const listed = await scripted({ resourceScopes: ['mcp:read', 'mcp:write'], metadata: { scopes_supported: ['offline_access'] } })
  url = await authorizationUrlOf({ resource: listed.mcpUrl })
  assert.equal(url.searchParams.get('scope'), 'mcp:read mcp:write offline_access')

  const challenged = await scripted({ resourceScopes: ['mcp:read', 'mcp:write'], challengeScope: 'mcp:basic' })
  url = await authorizationUrlOf({ resource: challenged.mcpUrl })
  assert.equal(url.searchParams.get('scope'), 'mcp:basic', "the 401's scope wins; no offline_access the server does not list")

  url = await authorizationUrlOf({ resource: none.mcpUrl, scope: 'openid mcp:x' })
  assert.equal(url.searchParams.get('scope'), 'openid mcp:x', 'a given scope always wins')
  assert.ok(url.searchParams.get('nonce'), 'openid in the scope sent: a nonce')
})

test('scope with --issuer: the OpenID default from an OpenID provider, nothing from a plain OAuth 2 server', async () => {
  const plain = await scripted()
  let url = await authorizationUrlOf({ issuer: plain.issuer })
  assert.equal(url.searchParams.has('scope'), false)
  assert.equal(url.searchParams.has('nonce'), false)

  const openid = await scripted({ metadataAt: 'openid-configuration' })
  url = await authorizationUrlOf({ issuer: openid.issuer })
  assert.equal(url.searchParams.get('scope'), 'openid profile email offline_access')
  assert.ok(url.searchParams.get('nonce'))
})

test('no scope, no nonce: the login needs no ID token, and the token opens the MCP server', async () => {
  const server = await scripted()
  const login = auth({ resource: server.mcpUrl })
  const status = await login.login()
  assert.equal(status.claims, null)
  const { access_token } = await login.getAccessToken()
  const answer = await fetch(server.mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${access_token}` }, body: '{}' })
  assert.equal(answer.status, 200)
})

test('a registration made in this login is not probed; a reused one is', async () => {
  const server = await scripted()
  const login = auth({ resource: server.mcpUrl, scope: 'mcp:tools' })
  await login.login()
  assert.equal(authorizations(server).length, 1, 'only the browser asked the authorization endpoint')
  assert.ok(authorizations(server)[0].query.get('code_challenge'))
  await login.login()
  assert.equal(server.clients.size, 1, 'reused')
  const [probe, visit] = authorizations(server).slice(1)
  assert.equal(probe.query.has('code_challenge'), false, 'the probe: client_id and redirect_uri only')
  assert.ok(visit.query.get('code_challenge'))
})

for (const unknownClient of ['error-page', 'own-error-redirect'] as const) {
  test(`a forgotten registration is noticed before the browser opens (${unknownClient}) and made again, once`, async () => {
    const server = await scripted({ unknownClient })
    const profile = `forgotten-${unknownClient}`
    await auth({ resource: server.mcpUrl, profile, scope: 'mcp:tools' }).login()
    const first = [...server.clients.keys()][0]
    server.clients.clear()
    const browser = createBrowserDouble()
    await auth({ resource: server.mcpUrl, profile, scope: 'mcp:tools' }, browser).login()
    assert.equal(browser.urls.length, 1, 'one browser visit')
    assert.equal(new URL(browser.urls[0]).searchParams.get('client_id'), 'client-2')
    assert.equal(server.count('POST /register'), 2)
    assert.notEqual(first, 'client-2')
  })
}

test('client_secret_basic: unreserved characters are not escaped before base64', async () => {
  const server = await scripted({ metadata: { token_endpoint_auth_methods_supported: ['client_secret_basic'] } })
  await auth({ resource: server.mcpUrl, scope: 'mcp:tools' }).login()
  const exchange = server.requests.find((r) => r.path === '/token')
  assert.equal(exchange?.headers.authorization, `Basic ${Buffer.from('client-1:se-cret_1~.x').toString('base64')}`)
  assert.equal(new URLSearchParams(exchange?.body).has('client_secret'), false)
})

test('a 2026-07-28 server: server/discover with its headers finds the metadata; no bare initialize', async () => {
  const server = await scripted({ revision: '2026-07-28' })
  await auth({ resource: server.mcpUrl }).login()
  const posts = server.requests.filter((r) => r.method === 'POST' && r.path === '/mcp')
  assert.equal(posts.length, 1)
  assert.equal(posts[0].headers['mcp-protocol-version'], '2026-07-28')
  assert.equal(posts[0].headers['mcp-method'], 'server/discover')
  assert.equal((JSON.parse(posts[0].body) as { method: string }).method, 'server/discover')
})

test('an older server: a 400 naming an unknown method (or HeaderMismatch) means initialize; another 400 does not', async () => {
  const methodNotFound = { status: 400, body: { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Method not found' } } }
  const older = await scripted({ answers: { 'server/discover': methodNotFound }, challengeNamesMetadata: true, protectedResourceMetadata: true })
  older.config.answers = {
    'server/discover': methodNotFound,
    initialize: { status: 401, body: { error: 'invalid_token' } },
  }
  // The initialize 401 above names nothing: the well-known URL is what finds the metadata.
  await auth({ resource: older.mcpUrl }).login()
  const methods = older.requests.filter((r) => r.method === 'POST' && r.path === '/mcp').map((r) => (JSON.parse(r.body) as { method: string }).method)
  assert.deepEqual(methods, ['server/discover', 'initialize'])

  const refusing = await scripted({ answers: { 'server/discover': { status: 400, body: { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Invalid params' } } } } })
  await auth({ resource: refusing.mcpUrl }).login()
  const sent = refusing.requests.filter((r) => r.method === 'POST' && r.path === '/mcp').map((r) => (JSON.parse(r.body) as { method: string }).method)
  assert.deepEqual(sent, ['server/discover'])
  assert.equal(refusing.count('GET /.well-known/oauth-protected-resource/mcp'), 1)
})

test('the 2025-03-26 revision: no resource metadata, the origin is the authorization server (its RFC 8414 metadata)', async () => {
  const server = await scripted({ protectedResourceMetadata: false, challengeNamesMetadata: false })
  const login = auth({ resource: server.mcpUrl })
  const status = await login.login()
  assert.equal(status.issuer, server.origin)
  assert.equal(authorizations(server).at(-1)?.query.get('resource'), server.mcpUrl, 'the URL given is the resource')
  assert.ok(server.count('GET /.well-known/oauth-authorization-server') >= 1)
  assert.equal(server.count('POST /register'), 1, 'registered at the origin')
})

test('the 2025-03-26 revision without any metadata: /authorize, /token and /register at the origin; the token refreshes there', async () => {
  const server = await scripted({ protectedResourceMetadata: false, challengeNamesMetadata: false, metadataAt: 'none' })
  const login = auth({ resource: server.mcpUrl })
  const status = await login.login()
  assert.equal(status.issuer, server.origin)
  assert.equal(server.count('POST /register'), 1)
  assert.equal(server.count('POST /token'), 1)
  const { access_token } = await login.getAccessToken()
  assert.match(access_token, /^at-/)
})

test('authorization server metadata whose issuer is not exactly the one the resource names is not used', async () => {
  const server = await scripted({ metadata: {} })
  server.config.metadata = { issuer: `${server.origin}/` }
  await assert.rejects(auth({ resource: server.mcpUrl }).login(), /names another issuer \("http:\/\/127\.0\.0\.1:\d+\/"\)/)
  assert.equal(server.count('POST /register'), 0)
  assert.equal(authorizations(server).length, 0)
})

test('RFC 9207 iss: checked when sent, required when advertised, compared without normalization; the code is then never redeemed', async () => {
  const cases: Array<[Partial<ScriptedConfig>, boolean]> = [
    [{ iss: 'issuer', metadata: { authorization_response_iss_parameter_supported: true } }, true],
    [{ iss: 'none' }, true],
    [{ iss: 'none', metadata: { authorization_response_iss_parameter_supported: true } }, false],
    [{ iss: 'https://evil.example' }, false],
  ]
  for (const [config, accepted] of cases) {
    const server = await scripted(config)
    const login = auth({ resource: server.mcpUrl, scope: 'mcp:tools' }).login()
    if (accepted) await login
    else await assert.rejects(login)
    assert.equal(server.count('POST /token'), accepted ? 1 : 0, JSON.stringify(config))
  }
  const normalized = await scripted({ metadata: { authorization_response_iss_parameter_supported: true } })
  normalized.config.iss = `${normalized.origin}/`
  await assert.rejects(auth({ resource: normalized.mcpUrl, scope: 'mcp:tools' }).login(), /iss/)
  assert.equal(normalized.count('POST /token'), 0)
})

test('a resource that now names another authorization server: registered there anew; the first one’s client never reaches it (SEP-2352)', async () => {
  const first = await scripted()
  const second = await scripted({ clientIdPrefix: 'second-' })
  const profile = 'moved'
  await auth({ resource: first.mcpUrl, profile, scope: 'mcp:tools' }).login()
  const firstClient = [...first.clients.keys()][0]
  first.config.authorizationServer = second.issuer
  const status = await auth({ resource: first.mcpUrl, profile, scope: 'mcp:tools' }).login()
  assert.equal(status.issuer, second.issuer)
  assert.equal(second.count('POST /register'), 1)
  for (const request of second.requests) {
    assert.notEqual(request.query.get('client_id'), firstClient)
    assert.notEqual(new URLSearchParams(request.body).get('client_id'), firstClient)
  }
})
