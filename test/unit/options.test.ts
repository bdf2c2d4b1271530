import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cliMessage } from '../../src/cli/messages.ts'
import { callbackUrls, normalizeScope, resolveLoginSettings, resolveRedirectSettings } from '../../src/options.ts'
import { issuerFromDomain } from '../../src/protocol/quirks.ts'
import { UsageError } from '../../src/errors.ts'

test('defaults from the contract', () => {
  const s = resolveLoginSettings({ issuer: 'https://tenant.auth0.com/', clientId: 'abc' }, {})
  assert.equal(s.scope, 'openid profile email offline_access')
  assert.equal(s.port, 4242)
  assert.equal(s.portAttempts, 50)
  assert.equal(s.redirectHost, '127.0.0.1')
  assert.equal(s.redirectPath, '/callback')
  assert.equal(s.timeoutS, 300)
  assert.equal(s.device, false)
})

test('given settings beat what the profile remembers, which beats defaults', () => {
  const remembered = { issuer: 'https://old/', clientId: 'old', audience: 'api-old', scope: 'openid', port: 5000, device: true }
  const s = resolveLoginSettings({ clientId: 'new', port: 6000 }, remembered)
  assert.equal(s.issuer, 'https://old/')
  assert.equal(s.clientId, 'new')
  assert.equal(s.audience, 'api-old')
  assert.equal(s.scope, 'openid')
  assert.equal(s.port, 6000)
  assert.equal(s.device, true)
})

test('--domain is the Auth0 shorthand, trailing slash included', () => {
  assert.equal(issuerFromDomain('tenant.eu.auth0.com'), 'https://tenant.eu.auth0.com/')
  assert.equal(issuerFromDomain('127.0.0.1:8443'), 'https://127.0.0.1:8443/')
  assert.equal(resolveLoginSettings({ domain: 'x.auth0.com', clientId: 'c' }, {}).issuer, 'https://x.auth0.com/')
  assert.throws(() => issuerFromDomain('https://x.auth0.com'), UsageError)
  assert.throws(() => resolveLoginSettings({ domain: 'x.auth0.com', issuer: 'https://y/', clientId: 'c' }, {}), /option "domain" cannot be given together with "issuer"/)
})

test('scopes: spaces or commas, deduplicated', () => {
  assert.equal(normalizeScope('openid,profile  email,openid'), 'openid profile email')
  assert.equal(normalizeScope(['openid', 'offline_access']), 'openid offline_access')
  assert.throws(() => normalizeScope(' , '), UsageError)
})

// The library names its own options; the standalone CLI says the same with its flags (cli/messages.ts).
const invalid: Array<[string, Parameters<typeof resolveLoginSettings>[0], RegExp, RegExp]> = [
  ['no issuer', { clientId: 'c' }, /^option "issuer" is required/, /^an issuer is required: pass --issuer <url>, --domain <host> or the API.s --resource <url> \(or set CLI_LOGIN_ISSUER\)$/],
  ['no client id', { issuer: 'https://a/' }, /^option "clientId" is required$/, /^a client id is required: pass --client-id <id> \(or set CLI_LOGIN_CLIENT_ID\)$/],
  ['http issuer off loopback', { issuer: 'http://example.com/', clientId: 'c' }, /option "issuer" must use https/, /^--issuer must use https/],
  ['not a URL', { issuer: 'tenant.auth0.com', clientId: 'c' }, /option "issuer" must be a URL/, /^--issuer must be a URL/],
  ['port out of range', { issuer: 'https://a/', clientId: 'c', port: 70000 }, /option "port" must be a port number/, /^--port must be a port number/],
  ['range past 65535', { issuer: 'https://a/', clientId: 'c', port: 65530, portAttempts: 50 }, /option "portAttempts"/, /^--port-attempts must be/],
  ['zero timeout', { issuer: 'https://a/', clientId: 'c', timeoutS: 0 }, /option "timeoutS"/, /^--timeout must be/],
  ['path without slash', { issuer: 'https://a/', clientId: 'c', redirectPath: 'callback' }, /option "redirectPath"/, /^--redirect-path must be/],
]
for (const [name, input, libraryWords, cliWords] of invalid) {
  test(`invalid: ${name}`, () =>
    assert.throws(
      () => resolveLoginSettings(input, {}),
      (e: unknown) => {
        assert.ok(e instanceof UsageError)
        assert.match(e.message, libraryWords)
        assert.doesNotMatch(e.message, /--|CLI_LOGIN/, 'no CLI words in the library')
        assert.match(cliMessage(e), cliWords)
        return true
      },
    ))
}

test('http is allowed for a loopback provider', () => {
  assert.equal(resolveLoginSettings({ issuer: 'http://127.0.0.1:3000/', clientId: 'c' }, {}).issuer, 'http://127.0.0.1:3000/')
  assert.equal(resolveLoginSettings({ issuer: 'http://localhost:3000', clientId: 'c' }, {}).issuer, 'http://localhost:3000')
})

test('callback URLs cover every port of the range', () => {
  const urls = callbackUrls(resolveRedirectSettings({}, {}))
  assert.equal(urls.length, 50)
  assert.equal(urls[0], 'http://127.0.0.1:4242/callback')
  assert.equal(urls[49], 'http://127.0.0.1:4291/callback')
  assert.deepEqual(callbackUrls(resolveRedirectSettings({ port: 9000, portAttempts: 2, redirectHost: 'localhost', redirectPath: '/cb' }, {})), [
    'http://localhost:9000/cb',
    'http://localhost:9001/cb',
  ])
})

test('what the profile remembers is dropped when another issuer is given', () => {
  const remembered = { issuer: 'https://old.example/', clientId: 'old-client', audience: 'old-api', port: 5000 }
  assert.throws(() => resolveLoginSettings({ issuer: 'https://new.example/' }, remembered), /option "clientId" is required/)
  const s = resolveLoginSettings({ issuer: 'https://new.example/', clientId: 'new' }, remembered)
  assert.equal(s.audience, undefined)
  assert.equal(s.port, 4242)
  assert.equal(resolveLoginSettings({ issuer: 'https://old.example', clientId: 'c' }, remembered).audience, 'old-api', 'same issuer, slash or not')
})

test('--timeout bounds: timers take whole milliseconds up to 2^31 - 1', () => {
  for (const timeoutS of [0.0001, 9_999_999, Number.NaN]) {
    assert.throws(() => resolveLoginSettings({ issuer: 'https://a/', clientId: 'c', timeoutS }, {}), /option "timeoutS" must be a number of seconds from 0.001/)
  }
  assert.equal(resolveLoginSettings({ issuer: 'https://a/', clientId: 'c', timeoutS: 0.5 }, {}).timeoutS, 0.5)
})

test('a redirect path is a plain absolute path', () => {
  for (const redirectPath of ['//cb', 'cb', '/cb?x=1', '/c b']) {
    assert.throws(() => resolveRedirectSettings({ redirectPath }, {}), /option "redirectPath"/, redirectPath)
  }
  assert.equal(resolveRedirectSettings({ redirectPath: '/oauth/callback' }, {}).redirectPath, '/oauth/callback')
})
