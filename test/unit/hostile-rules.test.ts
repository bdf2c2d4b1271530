/** The pure pieces of issue 10's rules; the attacker's end-to-end view is test/integration/hostile.test.ts. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type * as client from 'openid-client'
import { terminalLines, terminalText } from '../../src/terminal-text.ts'
import { insecureEndpoint, needsInsecureRequests } from '../../src/protocol/endpoint-policy.ts'
import { withoutSecrets } from '../../src/browser/open-browser.ts'
import { createProviderFetch } from '../../src/net/provider-fetch.ts'
import { tokenProblem } from '../../src/cli/commands/format-token.ts'

test('terminalText escapes C0, DEL, C1 and line separators; terminalLines keeps only \\n', () => {
  assert.equal(terminalText('a\u001b[2Jb\u0007c\u007fd\u009be\nf\u2028'), 'a\\u001b[2Jb\\u0007c\\u007fd\\u009be\\u000af\\u2028')
  assert.equal(terminalLines('one\ntwo\r\u001b'), 'one\ntwo\\u000d\\u001b')
  assert.equal(terminalText('Zoë <zoe@example.com> 日本'), 'Zoë <zoe@example.com> 日本')
  // JSON with escaped C1 controls is still JSON, and the same string.
  const json = terminalLines(JSON.stringify({ name: 'x\u009by\u007f' }))
  assert.equal(JSON.parse(json).name, 'x\u009by\u007f')
})

test('endpoint policy: https anywhere, http only on loopback, endpoint by endpoint', () => {
  const base = { issuer: 'http://127.0.0.1:9000', authorization_endpoint: 'http://127.0.0.1:9000/a', token_endpoint: 'http://localhost:9000/t' } as client.ServerMetadata
  assert.equal(insecureEndpoint(base), undefined)
  assert.equal(needsInsecureRequests(base), true)
  assert.deepEqual(insecureEndpoint({ ...base, token_endpoint: 'http://127.0.0.2/t' }), ['token_endpoint', 'http://127.0.0.2/t'])
  assert.deepEqual(insecureEndpoint({ ...base, end_session_endpoint: 'http://idp.example/logout' }), ['end_session_endpoint', 'http://idp.example/logout'])
  assert.deepEqual(insecureEndpoint({ ...base, userinfo_endpoint: 'not a url' }), ['userinfo_endpoint', 'not a url'])
  const https = { issuer: 'https://idp.example/', token_endpoint: 'https://idp.example/t' } as client.ServerMetadata
  assert.equal(insecureEndpoint(https), undefined)
  assert.equal(needsInsecureRequests(https), false)
})

test('withoutSecrets drops every variable whose value holds a secret', () => {
  const env = { PATH: '/bin', CLI_LOGIN_CLIENT_SECRET: 's3cret', ACME_SECRET: 'prefix-s3cret', OTHER: 'x' }
  assert.deepEqual(withoutSecrets(env, ['s3cret']), { PATH: '/bin', OTHER: 'x' })
  assert.deepEqual(withoutSecrets(env, ['']), env)
})

test('tokenProblem: visible ASCII without spaces (0x21-0x7E), not only RFC 6750 b64token', () => {
  assert.equal(tokenProblem('eyJhbGciOi.J9-_~+/abc=='), undefined)
  assert.equal(tokenProblem('gho_16C7e42F292c:v1.2!#$%&*()[]{}<>?@^|"\'`,;'), undefined, 'every visible ASCII character')
  assert.match(tokenProblem('caf\u00e9') ?? '', /other than visible ASCII/)
  assert.match(tokenProblem('a\r\nb') ?? '', /line break/)
  assert.match(tokenProblem('a b') ?? '', /spaces/)
  assert.match(tokenProblem('a\u001bb') ?? '', /control/)
  assert.match(tokenProblem('') ?? '', /empty/)
})

test('provider fetch: an answer over 1 MiB is refused, with or without Content-Length', async (t) => {
  const big = Buffer.alloc(1024 * 1024 + 1, 'x')
  const server = createServer((req, res) => {
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(big.subarray(0, 600_000))
      res.end(big.subarray(600_000))
    } else if (req.url === '/small') {
      res.end('{"ok":true}')
    } else {
      res.writeHead(200, { 'content-length': String(big.length) }).end(big)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const providerFetch = createProviderFetch({})
  for (const path of ['/chunked', '/sized']) await assert.rejects(providerFetch(`${base}${path}`), /larger than 1 MiB/)
  assert.deepEqual(await (await providerFetch(`${base}/small`)).json(), { ok: true })
})
