/** The one rule for "use the stored token, refresh it, or log in again", and what a stored session may be used for. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decideToken, resolveTarget, storedToken, targetKey, type TokenRequest } from '../../src/session/token-decision.ts'
import { sessionMismatch } from '../../src/flows/access-token.ts'
import type { Session } from '../../src/session/session.ts'

const NOW = 1_800_000_000
const API = 'https://api.acme.example/'
const BILLING = 'https://billing.acme.example/'
const billingKey = targetKey({ audience: BILLING })

const session: Session = {
  version: 1,
  issuer: 'https://acme.eu.auth0.com/',
  clientId: 'acme-cli',
  audience: API,
  requestedScope: 'openid profile email offline_access',
  scope: 'openid profile email offline_access',
  tokenType: 'Bearer',
  accessToken: 'main-token',
  expiresAt: NOW + 3600,
  refreshToken: 'refresh-token',
  idToken: 'id-token',
  idTokenExpiresAt: NOW + 600,
  user: { sub: 'auth0|alice' },
  targets: { [billingKey]: { audience: BILLING, tokenType: 'Bearer', accessToken: 'billing-token', expiresAt: NOW + 30, refreshedAt: NOW - 100 } },
  createdAt: NOW - 100,
}

const { refreshToken: _none, idToken: _noId, idTokenExpiresAt: _noExp, targets: _noTargets, ...withoutRefresh } = session
const machine: Session = { ...withoutRefresh, grant: 'client-credentials', requestedScope: '', clientSecret: 'cs' }

const ask = (over: Partial<TokenRequest> = {}): TokenRequest => ({ nowS: NOW, minTtlS: 60, ...over })

test('decideToken: a table of sessions and requests', () => {
  const rows: Array<[string, Session, TokenRequest, ReturnType<typeof decideToken>]> = [
    ['fresh main token', session, ask(), { action: 'use', token: { access_token: 'main-token', token_type: 'Bearer', expires_at: NOW + 3600 } }],
    ['less than minTtlS left', session, ask({ minTtlS: 3600 }), { action: 'refresh' }],
    ['exactly minTtlS left is not enough', { ...session, expiresAt: NOW + 60 }, ask(), { action: 'refresh' }],
    ['forceRefresh', session, ask({ forceRefresh: true }), { action: 'refresh' }],
    ['expired, no refresh token', { ...session, expiresAt: NOW - 1, refreshToken: undefined }, ask(), { action: 'login', reason: 'no-refresh-token' }],
    ['refresh rejected earlier', { ...session, refreshRejectedAt: NOW - 5 }, ask(), { action: 'login', reason: 'session-expired' }],
    ['no expiry given: always fresh', { ...session, expiresAt: undefined }, ask(), { action: 'use', token: { access_token: 'main-token', token_type: 'Bearer', expires_at: null } }],
    ['ID token, fresh', session, ask({ tokenType: 'id' }), { action: 'use', token: { access_token: 'id-token', token_type: 'Bearer', expires_at: NOW + 600 } }],
    ['ID token about to expire', { ...session, idTokenExpiresAt: NOW + 10 }, ask({ tokenType: 'id' }), { action: 'refresh' }],
    ['no ID token, a refresh token', { ...session, idToken: undefined }, ask({ tokenType: 'id' }), { action: 'refresh' }],
    ['another API, cached but short', session, ask({ target: { audience: BILLING } }), { action: 'refresh' }],
    ['another API, cached and fresh', session, ask({ target: { audience: BILLING }, minTtlS: 10 }), { action: 'use', token: { access_token: 'billing-token', token_type: 'Bearer', expires_at: NOW + 30 } }],
    ['another API, never asked', session, ask({ target: { resource: BILLING } }), { action: 'refresh' }],
    ['another API without a refresh token', { ...session, refreshToken: undefined }, ask({ target: { audience: 'https://other/' } }), { action: 'login', reason: 'no-refresh-token' }],
    // A session without a person has no refresh token by design: its grant is made again.
    ['client credentials, fresh', machine, ask(), { action: 'use', token: { access_token: 'main-token', token_type: 'Bearer', expires_at: NOW + 3600 } }],
    ['client credentials, expiring: the grant again', machine, ask({ minTtlS: 3600 }), { action: 'refresh' }],
    ['federated, expired: the grant again', { ...machine, grant: 'jwt-bearer', expiresAt: NOW - 1 }, ask(), { action: 'refresh' }],
    ['a machine session has no ID token to renew', machine, ask({ tokenType: 'id' }), { action: 'login', reason: 'no-refresh-token' }],
    ['nor another API', machine, ask({ target: { audience: BILLING } }), { action: 'login', reason: 'no-refresh-token' }],
  ]
  for (const [name, s, request, expected] of rows) assert.deepEqual(decideToken(s, request), expected, name)
})

test('storedToken: the main token never answers for a target', () => {
  assert.equal(storedToken(session, { target: { audience: 'https://other/' } }), undefined)
  assert.equal(storedToken(session, {})?.access_token, 'main-token')
})

test('resolveTarget: the session\'s own token unless another API, a resource or another scope is asked', () => {
  assert.equal(resolveTarget(session, {}), undefined)
  assert.equal(resolveTarget(session, { audience: API }), undefined)
  assert.equal(resolveTarget(session, { scope: session.requestedScope }), undefined)
  assert.deepEqual(resolveTarget(session, { audience: BILLING }), { audience: BILLING, resource: undefined, scope: undefined })
  // A narrower scope alone is still for the session's own API.
  assert.deepEqual(resolveTarget(session, { scope: 'openid' }), { audience: API, resource: undefined, scope: 'openid' })
  // A resource names its own API: the session's audience does not come along.
  assert.deepEqual(resolveTarget(session, { resource: BILLING }), { audience: undefined, resource: BILLING, scope: undefined })
})

test('targetKey: one key per target, independent of how the object was built', () => {
  assert.equal(targetKey({ audience: BILLING }), targetKey({ scope: undefined, audience: BILLING }))
  assert.notEqual(targetKey({ audience: BILLING }), targetKey({ resource: BILLING }))
  assert.notEqual(targetKey({ audience: API, scope: 'openid' }), targetKey({ audience: API }))
})

test('sessionMismatch: a session is used only for the issuer, client, audience and scope it was made for', () => {
  const mine = { issuer: session.issuer, clientId: 'acme-cli', audience: API, scope: 'openid profile email offline_access' }
  assert.equal(sessionMismatch(session, mine), undefined)
  assert.equal(sessionMismatch(session, { ...mine, issuer: 'https://acme.eu.auth0.com' }), undefined, 'a trailing slash is the same issuer')
  assert.equal(sessionMismatch(session, { ...mine, issuer: 'https://other.eu.auth0.com/' }), 'issuer')
  assert.equal(sessionMismatch(session, { ...mine, issuer: undefined, domain: 'other.eu.auth0.com' }), 'issuer')
  assert.equal(sessionMismatch(session, { ...mine, clientId: 'someone-else' }), 'client')
  assert.equal(sessionMismatch(session, { ...mine, audience: BILLING }), 'audience')
  assert.equal(sessionMismatch(session, { ...mine, audience: undefined }), 'audience', 'a configured instance without an audience wants none')
  assert.equal(sessionMismatch({ ...session, audience: undefined }, { ...mine, audience: undefined }), undefined)
  assert.equal(sessionMismatch(session, { ...mine, scope: 'openid read:billing' }), 'scope')
  assert.equal(sessionMismatch(session, { ...mine, scope: 'openid email' }), undefined, 'a narrower scope is covered')
  // Providers leave openid and offline_access out of the granted scope; the tokens show them.
  assert.equal(sessionMismatch({ ...session, scope: 'profile email' }, mine), undefined)
  assert.equal(sessionMismatch({ ...session, scope: 'profile email', refreshToken: undefined }, mine), 'scope')
  // The CLI's `token` names no issuer: it takes whatever the profile holds.
  assert.equal(sessionMismatch(session, {}), undefined)
})
