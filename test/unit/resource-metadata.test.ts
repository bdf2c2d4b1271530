/** RFC 9728 discovery, WWW-Authenticate parsing and the authorization server's well-known URL variants, with a fetch stub. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { discoverProtectedResource, parseBearerChallenge } from '../../src/protocol/resource-metadata.ts'
import { discoverProvider } from '../../src/protocol/provider.ts'
import { ProviderError } from '../../src/errors.ts'

type Route = { status: number; body?: unknown; headers?: Record<string, string> }

/** A fetch that answers from a table of `<METHOD> <url>` and records what was asked. */
function stubFetch(routes: Record<string, Route>) {
  const asked: string[] = []
  const fetchStub = (async (input: string | URL | Request, init?: RequestInit) => {
    const key = `${init?.method ?? 'GET'} ${String(input instanceof Request ? input.url : input)}`
    asked.push(key)
    const route = routes[key] ?? { status: 404, body: { error: 'not_found' } }
    return new Response(route.body === undefined ? null : JSON.stringify(route.body), { status: route.status, headers: { 'content-type': 'application/json', ...route.headers } })
  }) as typeof fetch
  return { fetch: fetchStub, asked }
}

test('WWW-Authenticate: the Bearer challenge among others, quoted strings with escapes, token values', () => {
  assert.deepEqual(parseBearerChallenge('Bearer resource_metadata="https://r.example/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"'), {
    resourceMetadata: 'https://r.example/.well-known/oauth-protected-resource/mcp',
    scope: 'files:read files:write',
  })
  assert.deepEqual(parseBearerChallenge('Basic realm="x", scope="no", Bearer error=invalid_token, resource_metadata="https://r.example/m\\"x"'), {
    resourceMetadata: 'https://r.example/m"x',
    scope: undefined,
  })
  assert.deepEqual(parseBearerChallenge('DPoP algs="ES256"'), { resourceMetadata: undefined, scope: undefined })
  assert.deepEqual(parseBearerChallenge(''), { resourceMetadata: undefined, scope: undefined })
})

test("the 401's resource_metadata wins; scope from the 401, resource exactly as published", async () => {
  const { fetch, asked } = stubFetch({
    'GET https://api.example/mcp': { status: 401, headers: { 'www-authenticate': 'Bearer resource_metadata="https://api.example/meta", scope="a b"' } },
    'GET https://api.example/meta': { status: 200, body: { resource: 'https://api.example/mcp/', authorization_servers: ['https://as.example/t1'], scopes_supported: ['x'] } },
  })
  const found = await discoverProtectedResource('https://api.example/mcp', fetch)
  assert.deepEqual(found, { resource: 'https://api.example/mcp/', authorizationServers: ['https://as.example/t1'], scope: 'a b', metadataUrl: 'https://api.example/meta' })
  assert.deepEqual(asked, ['GET https://api.example/mcp', 'GET https://api.example/meta'])
})

test('no header: the initialize POST, then the well-known URL with the path, then the root; scopes_supported as the scope', async () => {
  const { fetch, asked } = stubFetch({
    'GET https://api.example/v1/mcp': { status: 405 },
    'POST https://api.example/v1/mcp': { status: 401, headers: { 'www-authenticate': 'Bearer realm="mcp"' } },
    'GET https://api.example/.well-known/oauth-protected-resource': { status: 200, body: { authorization_servers: ['https://as.example/'], scopes_supported: ['read', 'bad scope'] } },
  })
  const found = await discoverProtectedResource('https://api.example/v1/mcp', fetch)
  assert.ok('resource' in found)
  assert.equal(found.resource, 'https://api.example/v1/mcp', 'no resource published: the URL given')
  assert.equal(found.scope, 'read')
  assert.deepEqual(asked, [
    'GET https://api.example/v1/mcp',
    'POST https://api.example/v1/mcp',
    'POST https://api.example/v1/mcp',
    'GET https://api.example/.well-known/oauth-protected-resource/v1/mcp',
    'GET https://api.example/.well-known/oauth-protected-resource',
  ])
})

test('hostile or broken metadata: one line, never a plain-http URL off loopback', async () => {
  await assert.rejects(discoverProtectedResource('http://api.example/mcp', stubFetch({}).fetch), /must use https/)
  const { fetch } = stubFetch({
    'GET https://api.example/mcp': { status: 401, headers: { 'www-authenticate': 'Bearer resource_metadata="http://evil.example/meta"' } },
  })
  await assert.rejects(discoverProtectedResource('https://api.example/mcp', fetch), (error: ProviderError) => /must use https/.test(error.message) && !error.message.includes('\n'))
  const noServers = stubFetch({ 'GET https://api.example/.well-known/oauth-protected-resource/mcp': { status: 200, body: { resource: 'https://api.example/mcp' } } })
  await assert.rejects(discoverProtectedResource('https://api.example/mcp', noServers.fetch), /names no "authorization_servers"/)
  const another = stubFetch({
    'GET https://api.example/mcp': { status: 401, headers: { 'www-authenticate': 'Bearer resource_metadata="https://api.example/meta"' } },
    'GET https://api.example/meta': { status: 200, body: { resource: 'https://billing.example/', authorization_servers: ['https://as.example/'] } },
  })
  await assert.rejects(discoverProtectedResource('https://api.example/mcp', another.fetch), /is for another resource \("https:\/\/billing\.example\/"\)/)
})

const metadata = (issuer: string) => ({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, response_types_supported: ['code'] })

test('authorization server metadata: OpenID appended, else RFC 8414 path inserted, else OpenID path inserted', async () => {
  const rfc8414 = stubFetch({ 'GET https://as.example/.well-known/oauth-authorization-server/t1': { status: 200, body: metadata('https://as.example/t1') } })
  const { config } = await discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: rfc8414.fetch })
  assert.equal(config.serverMetadata().token_endpoint, 'https://as.example/t1/token')
  assert.deepEqual(rfc8414.asked, ['GET https://as.example/t1/.well-known/openid-configuration', 'GET https://as.example/.well-known/oauth-authorization-server/t1'])

  const inserted = stubFetch({ 'GET https://as.example/.well-known/openid-configuration/t1': { status: 200, body: metadata('https://as.example/t1') } })
  assert.equal((await discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: inserted.fetch })).config.serverMetadata().issuer, 'https://as.example/t1')

  // Another issuer in the document found by path insertion is refused like anywhere else.
  const mixUp = stubFetch({ 'GET https://as.example/.well-known/openid-configuration/t1': { status: 200, body: metadata('https://as.example/t2') } })
  await assert.rejects(discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: mixUp.fetch }), /discovery at https:\/\/as\.example\/\.well-known\/openid-configuration\/t1 for another issuer \("https:\/\/as\.example\/t2"\)/)
})

test('an MCP resource: GET, then server/discover with the 2026-07-28 headers, then initialize, each only while no 401 names the metadata', async () => {
  const { fetch, asked } = stubFetch({
    'GET https://api.example/mcp': { status: 405 },
    'POST https://api.example/mcp': { status: 401, headers: { 'www-authenticate': 'Bearer resource_metadata="https://api.example/meta", scope="tools"' } },
    'GET https://api.example/meta': { status: 200, body: { resource: 'https://api.example/mcp', authorization_servers: ['https://as.example/'] } },
  })
  const seen: RequestInit[] = []
  const recording = ((input: string, init?: RequestInit) => (seen.push(init ?? {}), fetch(input, init))) as typeof fetch
  const found = await discoverProtectedResource('https://api.example/mcp', recording, 'acme')
  assert.ok('resource' in found)
  assert.equal(found.scope, 'tools')
  assert.deepEqual(asked, ['GET https://api.example/mcp', 'POST https://api.example/mcp', 'GET https://api.example/meta'])
  const headers = new Headers(seen[1].headers)
  assert.equal(headers.get('mcp-protocol-version'), '2026-07-28')
  assert.equal(headers.get('mcp-method'), 'server/discover')
  const body = JSON.parse(String(seen[1].body)) as { method: string; params: { _meta: Record<string, unknown> } }
  assert.equal(body.method, 'server/discover')
  assert.equal(body.params._meta['io.modelcontextprotocol/protocolVersion'], '2026-07-28')
  assert.deepEqual(body.params._meta['io.modelcontextprotocol/clientInfo'], { name: 'acme', version: '1.0.0' })
})

test('a 400 to server/discover is read: HeaderMismatch or an unknown method means initialize, another answer does not', async () => {
  const answers = (code: number) => {
    let posts = 0
    const asked: string[] = []
    const fetchStub = (async (input: string, init?: RequestInit) => {
      asked.push(`${init?.method ?? 'GET'} ${input}`)
      if (init?.method !== 'POST') return new Response(null, { status: 404 })
      posts += 1
      return posts === 1
        ? Response.json({ jsonrpc: '2.0', id: 1, error: { code, message: 'no' } }, { status: 400 })
        : new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer resource_metadata="https://api.example/meta"' } })
    }) as typeof fetch
    return { fetchStub, asked }
  }
  for (const [code, initialize] of [[-32020, true], [-32601, true], [-32602, false]] as const) {
    const { fetchStub, asked } = answers(code)
    const found = await discoverProtectedResource('https://api.example/mcp', fetchStub)
    assert.equal(asked.filter((a) => a.startsWith('POST')).length, initialize ? 2 : 1, String(code))
    assert.equal(asked.includes('GET https://api.example/meta'), initialize, String(code))
    if (!initialize) assert.deepEqual(found, { tried: ['https://api.example/.well-known/oauth-protected-resource/mcp', 'https://api.example/.well-known/oauth-protected-resource'], scope: undefined })
  }
})

test('authorization server metadata of an issuer a resource names: the MCP order, and its issuer exactly', async () => {
  const withPath = stubFetch({ 'GET https://as.example/t1/.well-known/openid-configuration': { status: 200, body: metadata('https://as.example/t1') } })
  const found = await discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: withPath.fetch, order: 'mcp' })
  assert.equal(found.openid, true)
  assert.deepEqual(withPath.asked, [
    'GET https://as.example/.well-known/oauth-authorization-server/t1',
    'GET https://as.example/.well-known/openid-configuration/t1',
    'GET https://as.example/t1/.well-known/openid-configuration',
  ])
  const root = stubFetch({ 'GET https://as.example/.well-known/openid-configuration': { status: 200, body: metadata('https://as.example') } })
  assert.equal((await discoverProvider({ issuer: 'https://as.example', clientId: 'c', fetch: root.fetch, order: 'mcp' })).openid, true)
  assert.deepEqual(root.asked, ['GET https://as.example/.well-known/oauth-authorization-server', 'GET https://as.example/.well-known/openid-configuration'])

  const rfc8414 = stubFetch({ 'GET https://as.example/.well-known/oauth-authorization-server': { status: 200, body: metadata('https://as.example') } })
  assert.equal((await discoverProvider({ issuer: 'https://as.example', clientId: 'c', fetch: rfc8414.fetch, order: 'mcp' })).openid, false)
  assert.deepEqual(rfc8414.asked, ['GET https://as.example/.well-known/oauth-authorization-server'])

  // Equal once normalized is not equal: the trailing slash makes it another issuer.
  const slash = stubFetch({ 'GET https://as.example/.well-known/oauth-authorization-server': { status: 200, body: metadata('https://as.example/') } })
  await assert.rejects(discoverProvider({ issuer: 'https://as.example', clientId: 'c', fetch: slash.fetch, order: 'mcp' }), /names another issuer \("https:\/\/as\.example\/"\)/)
  assert.equal((await discoverProvider({ issuer: 'https://as.example', clientId: 'c', fetch: slash.fetch, order: 'mcp', originAsIssuer: true })).config.serverMetadata().issuer, 'https://as.example/', 'an origin taken as the issuer: either form')
  const other = stubFetch({ 'GET https://as.example/.well-known/oauth-authorization-server': { status: 200, body: metadata('https://attacker.example') } })
  await assert.rejects(discoverProvider({ issuer: 'https://as.example', clientId: 'c', fetch: other.fetch, order: 'mcp' }), /names "https:\/\/attacker\.example" as its "issuer"/)
})
