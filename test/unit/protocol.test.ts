import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cliMessage } from '../../src/cli/messages.ts'
import type { CliLoginError } from '../../src/errors.ts'
import * as client from 'openid-client'
import { endSessionUrl } from '../../src/protocol/revoke.ts'
import { configurationFromMetadata, toProviderError } from '../../src/protocol/provider.ts'
import { proxySettings } from '../../src/net/provider-fetch.ts'
import { ErrorCode } from '../../src/errors.ts'

function config(metadata: Partial<client.ServerMetadata>, clientSecret?: string) {
  return configurationFromMetadata({ issuer: metadata.issuer!, clientId: 'app', clientSecret, fetch }, { token_endpoint: `${metadata.issuer}oauth/token`, ...metadata } as client.ServerMetadata)
}

test('end-session URL: OIDC endpoint with id_token_hint, else client_id; Auth0 /v2/logout fallback; none', () => {
  const oidc = config({ issuer: 'https://idp.example/', end_session_endpoint: 'https://idp.example/logout' })
  assert.equal(endSessionUrl(oidc, { idToken: 'id.tok.en', clientId: 'app' })?.searchParams.get('id_token_hint'), 'id.tok.en')
  assert.equal(endSessionUrl(oidc, { clientId: 'app' })?.searchParams.get('client_id'), 'app')
  const auth0 = endSessionUrl(config({ issuer: 'https://tenant.eu.auth0.com/' }), { idToken: 'x', clientId: 'app' })
  assert.equal(auth0?.href, 'https://tenant.eu.auth0.com/v2/logout?client_id=app')
  assert.equal(endSessionUrl(config({ issuer: 'https://idp.example/' }), { clientId: 'app' }), undefined)
})

test('provider errors become one line with a stable code', () => {
  const refused = toProviderError(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) }), 'discovery at x')
  assert.equal(refused.code, ErrorCode.PROVIDER_UNREACHABLE)
  assert.match(refused.message, /could not reach the provider for discovery at x: ECONNREFUSED/)
  const timeout = toProviderError(new DOMException('timed out', 'TimeoutError'), 'the token refresh')
  assert.equal(timeout.code, ErrorCode.PROVIDER_UNREACHABLE)
  const other = toProviderError(new Error('boom\nsecond line'), 'the code exchange')
  assert.equal(other.code, ErrorCode.PROVIDER_ERROR)
  assert.doesNotMatch(other.message, /\n/)
})

test('proxy settings: upper or lower case', () => {
  assert.deepEqual(proxySettings({ HTTPS_PROXY: 'http://a:1', no_proxy: 'localhost' }), { httpProxy: undefined, httpsProxy: 'http://a:1', noProxy: 'localhost' })
  assert.deepEqual(proxySettings({ http_proxy: 'http://b:2' }), { httpProxy: 'http://b:2', httpsProxy: undefined, noProxy: undefined })
})

test('client secret: in the body, unless discovery lists only client_secret_basic', async () => {
  async function sentWith(methods: string[]) {
    let seen: { body: string; authorization: string | null } | undefined
    const capture = (async (_url: string, init: RequestInit) => {
      seen = { body: String(init.body), authorization: new Headers(init.headers).get('authorization') }
      return Response.json({ error: 'invalid_grant' }, { status: 400 })
    }) as unknown as typeof fetch
    const cfg = configurationFromMetadata(
      { issuer: 'https://idp.example/', clientId: 'app', clientSecret: 's3cret', fetch: capture },
      { issuer: 'https://idp.example/', token_endpoint: 'https://idp.example/oauth/token', token_endpoint_auth_methods_supported: methods } as client.ServerMetadata,
    )
    await client.refreshTokenGrant(cfg, 'rt').catch(() => {})
    return seen!
  }
  const post = await sentWith(['client_secret_post', 'client_secret_basic'])
  assert.match(post.body, /client_secret=s3cret/)
  assert.equal(post.authorization, null)
  const basic = await sentWith(['client_secret_basic'])
  assert.doesNotMatch(basic.body, /client_secret/)
  assert.match(basic.authorization ?? '', /^Basic /)
})

test('device flow against a provider without a device endpoint: one clear line', async () => {
  const { startDeviceAuthorization } = await import('../../src/protocol/device.ts')
  await assert.rejects(startDeviceAuthorization(config({ issuer: 'https://idp.example/' }), { scope: 'openid' }), (error: unknown) => {
    assert.equal((error as { code?: string }).code, ErrorCode.PROVIDER_ERROR)
    assert.match((error as Error).message, /no device authorization endpoint: log in through the browser instead$/)
    assert.match(cliMessage(error as CliLoginError), /log in through the browser instead \(without --device\)$/)
    return true
  })
})
