import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classifyPastedAddress, classifyRequest, type PastedVerdict, type RequestVerdict } from '../../src/loopback/guard.ts'

const expected = { path: '/callback', port: 4242, state: 'S0meRandomState_-' }
const host = '127.0.0.1:4242'
const ok = '/callback?code=abc&state=S0meRandomState_-'

const table: Array<[name: string, req: { method?: string; url?: string; host?: string }, verdict: RequestVerdict]> = [
  ['code with matching state', { method: 'GET', url: ok, host }, 'callback'],
  ['error with matching state', { method: 'GET', url: '/callback?error=access_denied&error_description=no&state=S0meRandomState_-', host }, 'callback'],
  ['iss and other parameters are fine', { method: 'GET', url: `${ok}&iss=https%3A%2F%2Fidp&session_state=x`, host }, 'callback'],
  ['Host localhost', { method: 'GET', url: ok, host: 'localhost:4242' }, 'callback'],
  ['Host LOCALHOST (case-insensitive)', { method: 'GET', url: ok, host: 'LocalHost:4242' }, 'callback'],
  ['Host [::1]', { method: 'GET', url: ok, host: '[::1]:4242' }, 'callback'],

  ['missing Host', { method: 'GET', url: ok }, 'bad-host'],
  ['foreign Host (DNS rebinding)', { method: 'GET', url: ok, host: 'evil.example:4242' }, 'bad-host'],
  ['Host without port', { method: 'GET', url: ok, host: '127.0.0.1' }, 'bad-host'],
  ['Host with another port', { method: 'GET', url: ok, host: '127.0.0.1:4243' }, 'bad-host'],
  ['Host localhost. (trailing dot)', { method: 'GET', url: ok, host: 'localhost.:4242' }, 'bad-host'],
  ['Host 127.0.0.2', { method: 'GET', url: ok, host: '127.0.0.2:4242' }, 'bad-host'],
  ['Host with userinfo trick', { method: 'GET', url: ok, host: 'evil@127.0.0.1:4242' }, 'bad-host'],
  ['bad Host wins over bad path', { method: 'POST', url: '/nope', host: 'evil.example' }, 'bad-host'],

  ['other path', { method: 'GET', url: '/other?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['favicon', { method: 'GET', url: '/favicon.ico', host }, 'not-found'],
  ['root', { method: 'GET', url: '/', host }, 'not-found'],
  ['trailing slash', { method: 'GET', url: '/callback/?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['different case', { method: 'GET', url: '/Callback?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['percent-encoded path', { method: 'GET', url: '/%63allback?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['network-path reference', { method: 'GET', url: '//evil.example/callback?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['absolute-form target', { method: 'GET', url: 'http://127.0.0.1:4242/callback?code=abc&state=S0meRandomState_-', host }, 'not-found'],
  ['asterisk target', { method: 'OPTIONS', url: '*', host }, 'not-found'],
  ['missing url', { method: 'GET', host }, 'not-found'],
  ['POST elsewhere is 404, not 405', { method: 'POST', url: '/other', host }, 'not-found'],

  ['POST on the path', { method: 'POST', url: ok, host }, 'method-not-allowed'],
  ['HEAD on the path', { method: 'HEAD', url: ok, host }, 'method-not-allowed'],
  ['lower-case get', { method: 'get', url: ok, host }, 'method-not-allowed'],
  ['missing method', { url: ok, host }, 'method-not-allowed'],

  ['code without state', { method: 'GET', url: '/callback?code=abc', host }, 'bad-state'],
  ['code with wrong state', { method: 'GET', url: '/callback?code=abc&state=other', host }, 'bad-state'],
  ['error with wrong state', { method: 'GET', url: '/callback?error=access_denied&state=other', host }, 'bad-state'],
  ['error without state', { method: 'GET', url: '/callback?error=access_denied', host }, 'bad-state'],
  ['state prefix only', { method: 'GET', url: '/callback?code=abc&state=S0meRandomState', host }, 'bad-state'],
  ['state with extra suffix', { method: 'GET', url: '/callback?code=abc&state=S0meRandomState_-x', host }, 'bad-state'],
  ['empty state', { method: 'GET', url: '/callback?code=abc&state=', host }, 'bad-state'],
  ['state twice', { method: 'GET', url: `${ok}&state=S0meRandomState_-`, host }, 'bad-state'],
  ['no query at all', { method: 'GET', url: '/callback', host }, 'bad-state'],

  ['state but neither code nor error', { method: 'GET', url: '/callback?state=S0meRandomState_-', host }, 'bad-request'],
  ['empty code', { method: 'GET', url: '/callback?code=&state=S0meRandomState_-', host }, 'bad-request'],
  ['code twice', { method: 'GET', url: `${ok}&code=def`, host }, 'bad-request'],
  ['error twice', { method: 'GET', url: '/callback?error=a&error=b&state=S0meRandomState_-', host }, 'bad-request'],
]

for (const [name, req, verdict] of table) {
  test(`classifyRequest: ${name} → ${verdict}`, () => {
    assert.equal(classifyRequest(req, expected), verdict)
  })
}

test('classifyRequest: port 80 may be left out of Host', () => {
  const port80 = { ...expected, port: 80 }
  assert.equal(classifyRequest({ method: 'GET', url: ok, host: '127.0.0.1' }, port80), 'callback')
  assert.equal(classifyRequest({ method: 'GET', url: ok, host: 'localhost:80' }, port80), 'callback')
})

test('classifyRequest: an empty expected state never matches', () => {
  assert.equal(classifyRequest({ method: 'GET', url: '/callback?code=abc&state=', host }, { ...expected, state: '' }), 'bad-state')
})

test('classifyRequest: percent-encoded state is compared decoded', () => {
  const special = { ...expected, state: 'a b+c/d' }
  assert.equal(classifyRequest({ method: 'GET', url: '/callback?code=x&state=a%20b%2Bc%2Fd', host }, special), 'callback')
})

test('classifyRequest: a custom redirect path', () => {
  const custom = { ...expected, path: '/oauth/done' }
  assert.equal(classifyRequest({ method: 'GET', url: '/oauth/done?code=x&state=S0meRandomState_-', host }, custom), 'callback')
  assert.equal(classifyRequest({ method: 'GET', url: '/callback?code=x&state=S0meRandomState_-', host }, custom), 'not-found')
})

// A pasted address goes through the same checks as the redirect (classifyRequest), against the attempt's redirect URI.
const redirect = { redirectUri: 'http://127.0.0.1:4242/callback', state: 'S0meRandomState_-' }
const pasted: Array<[name: string, text: string, verdict: PastedVerdict]> = [
  ['the address the browser ended on', `http://127.0.0.1:4242${ok}&iss=https%3A%2F%2Fidp`, 'callback'],
  ['with spaces around (a paste)', `  http://127.0.0.1:4242${ok}\r`, 'callback'],
  ['localhost for 127.0.0.1 (the same loopback)', `http://localhost:4242${ok}`, 'callback'],
  ['an error answer', 'http://127.0.0.1:4242/callback?error=access_denied&state=S0meRandomState_-', 'callback'],
  ['a bare code', 'abc', 'bare-code'],
  ['a code without its state', 'http://127.0.0.1:4242/callback?code=abc', 'bare-code'],
  ['not an address at all', 'I logged in, now what?', 'not-an-address'],
  ['another port', `http://127.0.0.1:4243${ok}`, 'not-the-redirect'],
  ['another host', `http://evil.example:4242${ok}`, 'not-the-redirect'],
  ['another path', 'http://127.0.0.1:4242/other?code=abc&state=S0meRandomState_-', 'not-the-redirect'],
  ['https for an http redirect', `https://127.0.0.1:4242${ok}`, 'not-the-redirect'],
  ['another attempt\'s state', 'http://127.0.0.1:4242/callback?code=abc&state=other', 'bad-state'],
  ['the state twice', `http://127.0.0.1:4242${ok}&state=S0meRandomState_-`, 'bad-state'],
  ['state but neither code nor error', 'http://127.0.0.1:4242/callback?state=S0meRandomState_-', 'bad-request'],
  ['two codes', `http://127.0.0.1:4242${ok}&code=def`, 'bad-request'],
]

for (const [name, text, verdict] of pasted) {
  test(`pasted: ${name} → ${verdict}`, () => {
    assert.equal(classifyPastedAddress(text, redirect), verdict)
  })
}
