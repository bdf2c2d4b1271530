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
  assert.equal(found.resource, 'https://api.example/v1/mcp', 'no resource published: the URL given')
  assert.equal(found.scope, 'read')
  assert.deepEqual(asked, [
    'GET https://api.example/v1/mcp',
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
  const config = await discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: rfc8414.fetch })
  assert.equal(config.serverMetadata().token_endpoint, 'https://as.example/t1/token')
  assert.deepEqual(rfc8414.asked, ['GET https://as.example/t1/.well-known/openid-configuration', 'GET https://as.example/.well-known/oauth-authorization-server/t1'])

  const inserted = stubFetch({ 'GET https://as.example/.well-known/openid-configuration/t1': { status: 200, body: metadata('https://as.example/t1') } })
  assert.equal((await discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: inserted.fetch })).serverMetadata().issuer, 'https://as.example/t1')

  // Another issuer in the document found by path insertion is refused like anywhere else.
  const mixUp = stubFetch({ 'GET https://as.example/.well-known/openid-configuration/t1': { status: 200, body: metadata('https://as.example/t2') } })
  await assert.rejects(discoverProvider({ issuer: 'https://as.example/t1', clientId: 'c', fetch: mixUp.fetch }), /discovery at https:\/\/as\.example\/t1\/\.well-known\/openid-configuration/)
})
