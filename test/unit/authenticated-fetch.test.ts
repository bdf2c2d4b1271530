/**
 * auth.fetch's rules over a fake resource (a recording `fetch`) and fake token/login steps: the
 * origins, 3xx, the one forced refresh on 401 invalid_token, step-up on 403 (the error, or logins
 * bounded by three and by a repeated challenge), and the DPoP branch with a fake `proof`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveAppIdentity } from '../../src/app.ts'
import { createContext } from '../../src/context.ts'
import { InsufficientScopeError, OriginNotAllowedError, StepUpRequiredError } from '../../src/errors.ts'
import { authenticatedFetch, type FetchDeps } from '../../src/flows/authenticated-fetch.ts'
import { FileSessionStore } from '../../src/session/file-store.ts'
import type { AccessToken, Session } from '../../src/session/session.ts'
import { defaultSystem } from '../../src/system.ts'
import type { CliLoginOptions } from '../../src/library-options.ts'
import { parseChallenges, stepUpOf } from '../../src/net/www-authenticate.ts'

const RESOURCE = 'https://mcp.example/mcp'

interface Sent {
  url: string
  method: string
  headers: Headers
  redirect: RequestRedirect | undefined
}

/** A resource answering from a script, one answer per request (the last repeats). */
function resource(answers: Array<() => Response>) {
  const sent: Sent[] = []
  const fetchImpl: typeof fetch = async (input, init) => {
    sent.push({ url: String(input), method: init?.method ?? 'GET', headers: new Headers(init?.headers), redirect: init?.redirect })
    return answers[Math.min(sent.length - 1, answers.length - 1)]()
  }
  return { sent, fetchImpl }
}

const refused = (status: number, challenge: string, extra: Record<string, string> = {}) => () => new Response('{}', { status, headers: { 'www-authenticate': challenge, ...extra } })
const ok = () => new Response('fine', { status: 200 })

async function setup(t: import('node:test').TestContext, fetchImpl: typeof fetch, options: Partial<CliLoginOptions> = {}, session: Partial<Session> = {}) {
  const home = await mkdtemp(join(tmpdir(), 'auth-fetch-'))
  t.after(() => rm(home, { recursive: true, force: true }))
  const store = new FileSessionStore(home, { loginCommand: 'acme login' })
  const now = Math.floor(Date.now() / 1000)
  await store.writeSession('default', {
    version: 1, issuer: 'https://as.example/', clientId: 'c', requestedScope: 'openid mcp:read', tokenType: 'Bearer', accessToken: 'at-1', expiresAt: now + 3600,
    user: {}, createdAt: now, resource: RESOURCE, ...session,
  })
  const all: CliLoginOptions = { appName: 'acme', fetch: fetchImpl, ...options }
  const ctx = createContext({ app: resolveAppIdentity(all), profile: 'default', options: all, system: defaultSystem(), store, memory: {}, signal: undefined })
  const calls = { tokens: [] as Array<boolean | undefined>, logins: [] as Array<string | undefined> }
  let n = 1
  const deps: FetchDeps = {
    async token(o) {
      calls.tokens.push(o.forceRefresh)
      if (o.forceRefresh) n++
      return { access_token: `at-${n}`, token_type: 'Bearer', expires_at: null }
    },
    async login(challenge) {
      calls.logins.push(challenge)
      n++
    },
  }
  return { ctx, deps, calls }
}

test('the token goes only to the session\'s origins: another is refused before anything is sent', async (t) => {
  const { sent, fetchImpl } = resource([ok])
  const { ctx, deps } = await setup(t, fetchImpl)
  await assert.rejects(authenticatedFetch(ctx, deps, 'https://evil.example/mcp'), (error: unknown) => {
    assert.ok(error instanceof OriginNotAllowedError)
    assert.deepEqual(error.allowed, ['https://mcp.example'])
    return true
  })
  assert.equal(sent.length, 0)
  const response = await authenticatedFetch(ctx, deps, 'https://mcp.example/other/path?x=1')
  assert.equal(response.status, 200)
  assert.equal(sent[0].headers.get('authorization'), 'Bearer at-1')
})

test('allowOrigins (the instance\'s and the call\'s) and an https audience add origins; an http audience does not', async (t) => {
  const { sent, fetchImpl } = resource([ok])
  const { ctx, deps } = await setup(t, fetchImpl, { allowOrigins: ['https://one.example/any/path'] }, { audience: 'https://api.example/', resource: undefined })
  await authenticatedFetch(ctx, deps, 'https://one.example/x')
  await authenticatedFetch(ctx, deps, 'https://two.example/x', { allowOrigins: ['https://two.example'] })
  await authenticatedFetch(ctx, deps, 'https://api.example/v1')
  assert.equal(sent.length, 3)
  const { ctx: httpAudience, deps: d2 } = await setup(t, fetchImpl, {}, { audience: 'http://api.example/', resource: undefined })
  await assert.rejects(authenticatedFetch(httpAudience, d2, 'http://api.example/v1'), OriginNotAllowedError)
})

test('a 3xx is returned as it is, never followed with the token', async (t) => {
  const { sent, fetchImpl } = resource([() => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } })])
  const { ctx, deps } = await setup(t, fetchImpl)
  const response = await authenticatedFetch(ctx, deps, RESOURCE, { redirect: 'follow' })
  assert.equal(response.status, 302)
  assert.equal(sent.length, 1)
  assert.equal(sent[0].redirect, 'manual')
})

test('401 invalid_token: one forced refresh and one retry; a second 401 is the answer', async (t) => {
  const { sent, fetchImpl } = resource([refused(401, 'Bearer error="invalid_token"')])
  const { ctx, deps, calls } = await setup(t, fetchImpl)
  const response = await authenticatedFetch(ctx, deps, RESOURCE, { method: 'post', body: 'x' })
  assert.equal(response.status, 401)
  assert.deepEqual(sent.map((s) => [s.method, s.headers.get('authorization')]), [['POST', 'Bearer at-1'], ['POST', 'Bearer at-2']])
  assert.deepEqual(calls.tokens, [false, true])
})

test('a 401 without invalid_token, or a body that streams, is not retried', async (t) => {
  const { sent, fetchImpl } = resource([refused(401, 'Bearer realm="x"')])
  const { ctx, deps } = await setup(t, fetchImpl)
  assert.equal((await authenticatedFetch(ctx, deps, RESOURCE)).status, 401)
  assert.equal(sent.length, 1)
  const other = resource([refused(401, 'Bearer error="invalid_token"')])
  const { ctx: c2, deps: d2 } = await setup(t, other.fetchImpl)
  const body = new ReadableStream({ start: (controller) => (controller.enqueue(new TextEncoder().encode('once')), controller.close()) })
  assert.equal((await authenticatedFetch(c2, d2, RESOURCE, { method: 'POST', body })).status, 401)
  assert.equal(other.sent.length, 1)
})

test('403 insufficient_scope, not interactive: InsufficientScopeError with the union of the scopes; no login', async (t) => {
  const { fetchImpl } = resource([refused(403, 'Bearer error="insufficient_scope", scope="mcp:write", error_description="writing needs more"')])
  const { ctx, deps, calls } = await setup(t, fetchImpl, {}, { scope: 'mcp:read openid' })
  await assert.rejects(authenticatedFetch(ctx, deps, RESOURCE), (error: unknown) => {
    assert.ok(error instanceof InsufficientScopeError)
    assert.equal(error.scope, 'openid mcp:read mcp:write')
    assert.equal(error.challengedScope, 'mcp:write')
    assert.match(error.message, /scope "mcp:write" .*writing needs more.*: run acme login$/)
    return true
  })
  assert.deepEqual(calls.logins, [])
})

test('403 insufficient_scope, interactive: a login with the challenge, then the retry', async (t) => {
  const challenge = 'Bearer error="insufficient_scope", scope="mcp:write"'
  const { sent, fetchImpl } = resource([refused(403, challenge), ok])
  const { ctx, deps, calls } = await setup(t, fetchImpl)
  const response = await authenticatedFetch(ctx, deps, RESOURCE, { interactive: true })
  assert.equal(response.status, 200)
  assert.deepEqual(calls.logins, [challenge])
  assert.equal(sent[1].headers.get('authorization'), 'Bearer at-2')
})

test('the same challenge right after the login that asked for it ends with one error; changing ones after three logins', async (t) => {
  const same = 'Bearer error="insufficient_scope", scope="mcp:admin"'
  const { sent, fetchImpl } = resource([refused(403, same)])
  const { ctx, deps, calls } = await setup(t, fetchImpl)
  await assert.rejects(authenticatedFetch(ctx, deps, RESOURCE, { interactive: true }), /still asked after 1 re-authorization for this request/)
  assert.equal(calls.logins.length, 1)
  assert.equal(sent.length, 2)

  let k = 0
  const changing = resource([() => refused(403, `Bearer error="insufficient_scope", scope="s${++k}"`)()])
  const second = await setup(t, changing.fetchImpl)
  await assert.rejects(authenticatedFetch(second.ctx, second.deps, RESOURCE, { interactive: true }), (error: unknown) => error instanceof InsufficientScopeError && /after 3 re-authorizations/.test(error.message))
  assert.equal(second.calls.logins.length, 3)
  assert.equal(changing.sent.length, 4)
})

test('403 insufficient_user_authentication (RFC 9470): StepUpRequiredError naming acr_values and max_age', async (t) => {
  const { fetchImpl } = resource([refused(403, 'Bearer error="insufficient_user_authentication", acr_values="phr mfa", max_age=300')])
  const { ctx, deps } = await setup(t, fetchImpl)
  await assert.rejects(authenticatedFetch(ctx, deps, RESOURCE), (error: unknown) => {
    assert.ok(error instanceof StepUpRequiredError)
    assert.equal(error.acrValues, 'phr mfa')
    assert.equal(error.maxAge, 300)
    return true
  })
})

test('a 403 without a step-up challenge is the answer', async (t) => {
  const { sent, fetchImpl } = resource([refused(403, 'Bearer error="insufficient_scope"')])
  const { ctx, deps } = await setup(t, fetchImpl)
  assert.equal((await authenticatedFetch(ctx, deps, RESOURCE, { interactive: true })).status, 403)
  assert.equal(sent.length, 1)
})

test('DPoP: Authorization: DPoP and a fresh proof per request; use_dpop_nonce with DPoP-Nonce retried once with the nonce', async (t) => {
  const { sent, fetchImpl } = resource([refused(401, 'DPoP error="use_dpop_nonce", algs="ES256"', { 'dpop-nonce': 'n-1' }), ok])
  const { ctx } = await setup(t, fetchImpl)
  const proofs: Array<{ method: string; url: string; nonce?: string }> = []
  const token: AccessToken = {
    access_token: 'bound',
    token_type: 'DPoP',
    expires_at: null,
    proof: async (request) => {
      proofs.push({ method: request.method, url: String(request.url), nonce: request.nonce })
      return `proof-${proofs.length}`
    },
  }
  const deps: FetchDeps = { token: async () => token, login: async () => assert.fail('no login') }
  const response = await authenticatedFetch(ctx, deps, `${RESOURCE}?q=1`, { method: 'POST', body: '{}' })
  assert.equal(response.status, 200)
  assert.deepEqual(sent.map((s) => [s.headers.get('authorization'), s.headers.get('dpop')]), [['DPoP bound', 'proof-1'], ['DPoP bound', 'proof-2']])
  assert.deepEqual(proofs, [{ method: 'POST', url: `${RESOURCE}?q=1`, nonce: undefined }, { method: 'POST', url: `${RESOURCE}?q=1`, nonce: 'n-1' }])
})

test('refusedWith: a refusal the caller received already is acted on first (refresh, then one send; a step-up error without sending)', async (t) => {
  const { sent, fetchImpl } = resource([ok])
  const { ctx, deps, calls } = await setup(t, fetchImpl)
  assert.equal((await authenticatedFetch(ctx, deps, RESOURCE, { refusedWith: 'Bearer error="invalid_token"' })).status, 200)
  assert.deepEqual(calls.tokens, [true])
  assert.deepEqual(sent.map((s) => s.headers.get('authorization')), ['Bearer at-2'])
  await assert.rejects(authenticatedFetch(ctx, deps, RESOURCE, { refusedWith: 'Bearer error="insufficient_scope", scope="mcp:write"' }), InsufficientScopeError)
  assert.equal(sent.length, 1, 'nothing sent for the step-up')
  assert.equal((await authenticatedFetch(ctx, deps, RESOURCE, { refusedWith: 'Bearer realm="x"' })).status, 200, 'a refusal that asks for nothing: just sent')
})

test('WWW-Authenticate: several challenges, quoted strings, the step-up each asks for', () => {
  assert.deepEqual(parseChallenges('Basic realm="a, b", Bearer error="insufficient_scope", scope="x y"'), [
    { scheme: 'basic', params: { realm: 'a, b' } },
    { scheme: 'bearer', params: { error: 'insufficient_scope', scope: 'x y' } },
  ])
  assert.deepEqual(stepUpOf('Bearer error="insufficient_scope", scope="files:write"'), { kind: 'insufficient_scope', scope: 'files:write' })
  assert.deepEqual(stepUpOf('Bearer error=insufficient_user_authentication, max_age=5'), { kind: 'insufficient_user_authentication', maxAge: 5 })
  assert.equal(stepUpOf('Bearer error="insufficient_scope"'), undefined)
  assert.equal(stepUpOf('Bearer error="invalid_token"'), undefined)
})
