/**
 * Step-up and auth.fetch against the test kit's real OpenID provider and an API that checks its
 * tokens (audience, scope): a 403 insufficient_scope is an error unless interactive, then one new
 * login for the union of the scopes; RFC 9470's acr_values / max_age reach the authorization
 * request; a 401 invalid_token costs one refresh grant and one retry.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createBrowserDouble, DEMO_CLIENT_ID, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { InsufficientScopeError, StepUpRequiredError, type CliLogin } from '../../src/index.ts'
import { libraryLogins } from '../helpers/library-logins.ts'
import { startApiServer, type ApiServer } from '../helpers/api-server.ts'
import { loggedIn as cliLoggedIn } from '../helpers/logged-in.ts'
import { BIN, runCli } from '../helpers/cli.ts'
import { spawn } from 'node:child_process'

const logins = libraryLogins()
let provider: TestProvider
let api: ApiServer
let resource: string

const WRITE_CHALLENGE = 'Bearer error="insufficient_scope", scope="mcp:write", error_description="writing needs mcp:write"'

before(async () => {
  provider = await startTestProvider()
  logins.closeAfter(() => provider.close())
  api = await startApiServer()
  logins.closeAfter(() => api.close())
  resource = `${api.origin}/api`
  provider.addResourceServer(resource, { scope: 'mcp:read mcp:write' })
  // The API: a token for it (its audience) with the scope the path needs.
  const guard = (scope: string) => async (req: { headers: Record<string, string | string[] | undefined> }, res: import('node:http').ServerResponse, count: number, flaky = false) => {
    const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
    const identity = token ? await provider.verifyAccessToken(token) : undefined
    if (!identity || ![identity.aud ?? []].flat().includes(resource) || (flaky && count === 1)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' })
      return res.end()
    }
    if (!(identity.scope ?? '').split(' ').includes(scope)) {
      res.writeHead(403, { 'www-authenticate': scope === 'mcp:write' ? WRITE_CHALLENGE : `Bearer error="insufficient_scope", scope="${scope}"` })
      return res.end()
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ sub: identity.sub, scope: identity.scope }))
  }
  api.on('/api/read', (req, res, n) => void guard('mcp:read')(req, res, n))
  api.on('/api/write', (req, res, n) => void guard('mcp:write')(req, res, n))
  api.on('/api/flaky', (req, res, n) => void guard('mcp:read')(req, res, n, true))
  // Any valid token of the provider's (for the CLI's session, made without a resource).
  api.on('/plain', (req, res) => {
    void (async () => {
      const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
      if (!token || !(await provider.verifyAccessToken(token))) return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`plain ${req.body.toString()}`)
    })()
  })
})

async function loggedIn(browser = createBrowserDouble()): Promise<{ auth: CliLogin; browser: ReturnType<typeof createBrowserDouble> }> {
  const auth = logins.auth({ issuer: provider.issuer, clientId: DEMO_CLIENT_ID, resource: `${api.origin}/api`, scope: 'openid offline_access mcp:read' }, browser)
  await auth.login()
  return { auth, browser }
}

test('403 insufficient_scope: InsufficientScopeError without interactive (no browser); with it one login for the union, then the answer', async () => {
  const { auth, browser } = await loggedIn()
  const read = await auth.fetch(`${resource}/read`)
  assert.equal(read.status, 200)
  await assert.rejects(auth.fetch(`${resource}/write`, { method: 'POST', body: '{}' }), (error: unknown) => {
    assert.ok(error instanceof InsufficientScopeError)
    assert.equal(error.scope, 'openid offline_access mcp:read mcp:write')
    assert.match(error.message, /writing needs mcp:write/)
    return true
  })
  assert.equal(browser.urls.length, 1, 'no browser without interactive')
  const write = await auth.fetch(`${resource}/write`, { method: 'POST', body: '{}', interactive: true })
  assert.equal(write.status, 200)
  assert.match(((await write.json()) as { scope: string }).scope, /mcp:write/)
  assert.equal(browser.urls.length, 2)
  const asked = new URL(browser.urls[1]).searchParams
  assert.deepEqual(asked.get('scope')?.split(' ').sort(), ['mcp:read', 'mcp:write', 'offline_access', 'openid'])
  assert.equal(asked.get('resource'), resource)
  // The stepped-up session serves both from now on, without a browser.
  assert.equal((await auth.fetch(`${resource}/read`)).status, 200)
  assert.equal((await auth.fetch(`${resource}/write`, { method: 'POST' })).status, 200)
  assert.equal(browser.urls.length, 2)
})

test('getAccessToken({ challenge }): the error without interactive; login({ challenge }) asks for the union', async () => {
  const { auth, browser } = await loggedIn()
  await assert.rejects(auth.getAccessToken({ challenge: WRITE_CHALLENGE }), InsufficientScopeError)
  const token = await auth.getAccessToken({ challenge: WRITE_CHALLENGE, interactive: true })
  assert.match((await provider.verifyAccessToken(token.access_token))?.scope ?? '', /mcp:write/)
  assert.equal(browser.urls.length, 2)
  assert.match(new URL(browser.urls[1]).searchParams.get('scope') ?? '', /mcp:read.*mcp:write|mcp:write.*mcp:read/)
})

test('insufficient_user_authentication (RFC 9470): StepUpRequiredError, or a login with acr_values and max_age', async () => {
  const { auth, browser } = await loggedIn()
  const challenge = 'Bearer error="insufficient_user_authentication", acr_values="urn:mace:incommon:iap:silver", max_age=600'
  await assert.rejects(auth.getAccessToken({ challenge }), (error: unknown) => error instanceof StepUpRequiredError && error.maxAge === 600 && error.acrValues === 'urn:mace:incommon:iap:silver')
  await auth.login({ challenge })
  const asked = new URL(browser.urls[1]).searchParams
  assert.equal(asked.get('acr_values'), 'urn:mace:incommon:iap:silver')
  assert.equal(asked.get('max_age'), '600')
})

test('401 invalid_token: one refresh grant, one retry, the answer', async () => {
  const { auth } = await loggedIn()
  const refreshes = provider.stats.grants.refresh_token ?? 0
  const response = await auth.fetch(`${resource}/flaky`)
  assert.equal(response.status, 200)
  assert.equal((provider.stats.grants.refresh_token ?? 0) - refreshes, 1)
})

test('getAccessToken({ challenge }) with invalid_token: a forced refresh', async () => {
  const { auth } = await loggedIn()
  const before = await auth.getAccessToken()
  const refreshes = provider.stats.grants.refresh_token ?? 0
  const after = await auth.getAccessToken({ challenge: 'Bearer error="invalid_token", error_description="expired"' })
  assert.notEqual(after.access_token, before.access_token)
  assert.equal((provider.stats.grants.refresh_token ?? 0) - refreshes, 1)
})

test('cli-login fetch: a token the API no longer takes (401 invalid_token) is refreshed once and the request sent again; exit 0', async () => {
  const cleanups: Array<() => Promise<void>> = []
  logins.closeAfter(async () => {
    for (const cleanup of cleanups) await cleanup()
  })
  const session = await cliLoggedIn(provider, cleanups)
  provider.expireTokens() // the stored token looks fresh to the CLI, the API refuses it
  const refreshes = provider.stats.grants.refresh_token ?? 0
  const sentBefore = api.requests.length
  const run = await cliWithStdin(['fetch', '--allow-origin', api.origin, '-d', '@-', `${api.origin}/plain`], session.env, 'from stdin')
  assert.equal(run.code, 0, run.stderr)
  assert.equal(run.stdout, 'plain from stdin')
  assert.equal((provider.stats.grants.refresh_token ?? 0) - refreshes, 1, 'one refresh grant')
  const sent = api.requests.slice(sentBefore)
  assert.deepEqual(sent.map((r) => r.body.toString()), ['from stdin', 'from stdin'], 'the refused request, then one retry (standard input handed over)')
  assert.notEqual(sent[0].headers.authorization, sent[1].headers.authorization)
  provider.expireTokens({ refreshTokens: true })
  const refused = await runCli(['fetch', '--allow-origin', api.origin, `${api.origin}/plain`], session.env)
  assert.equal(refused.code, 4, refused.stderr)
  assert.match(refused.stderr, /run cli-login login\n$/)
})

function cliWithStdin(args: string[], env: NodeJS.ProcessEnv, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

test('the response body streams: read as it comes', async () => {
  api.on('/api/events', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: one\n\n')
    setTimeout(() => res.end('data: two\n\n'), 200)
  })
  const { auth } = await loggedIn()
  const response = await auth.fetch(`${resource}/events`)
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const first = await reader.read()
  assert.equal(new TextDecoder().decode(first.value), 'data: one\n\n', 'the first event before the answer ends')
  await reader.cancel()
})
