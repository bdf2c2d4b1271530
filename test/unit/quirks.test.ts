/** Provider quirks (src/protocol/quirks.ts): what Auth0 does beyond the standards, in one place. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UsageError } from '../../src/errors.ts'
import { fallbackEndSessionUrl, issuerFromDomain, wrongAudienceProblem } from '../../src/protocol/quirks.ts'

function jwt(payload: object): string {
  return ['eyJhbGciOiJSUzI1NiJ9', Buffer.from(JSON.stringify(payload)).toString('base64url'), 'sig'].join('.')
}

test("Auth0's domain shorthand is its tenant's issuer; anything but a host name is refused", () => {
  assert.equal(issuerFromDomain('tenant.eu.auth0.com'), 'https://tenant.eu.auth0.com/')
  assert.throws(() => issuerFromDomain('tenant.auth0.com/path'), (error: unknown) => error instanceof UsageError && error.option === 'domain')
})

test('an Auth0 tenant without end_session_endpoint logs out at /v2/logout; other providers have no fallback', () => {
  assert.equal(fallbackEndSessionUrl('https://tenant.eu.auth0.com/', 'app')?.href, 'https://tenant.eu.auth0.com/v2/logout?client_id=app')
  assert.equal(fallbackEndSessionUrl('https://idp.example/', 'app'), undefined)
  assert.equal(fallbackEndSessionUrl('https://auth0.com.evil.example/', 'app'), undefined)
})

test("a JWT whose aud lacks the API asked for is refused (Auth0's silent fallback to the default audience); opaque tokens pass", () => {
  assert.equal(wrongAudienceProblem(jwt({ aud: ['https://billing/', 'https://t.auth0.com/userinfo'] }), 'https://billing/'), undefined)
  assert.match(wrongAudienceProblem(jwt({ aud: 'https://default-api/' }), 'https://billing/') ?? '', /issued a token for "https:\/\/default-api\/" instead of "https:\/\/billing\/"/)
  assert.match(wrongAudienceProblem(jwt({}), 'https://billing/') ?? '', /for no audience instead of/)
  assert.equal(wrongAudienceProblem('opaque-token', 'https://billing/'), undefined)
  assert.equal(wrongAudienceProblem(jwt({ aud: 'https://default-api/' }), undefined), undefined)
})
