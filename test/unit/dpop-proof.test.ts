/** DPoP proofs for resource requests (src/protocol/dpop-proof.ts) and the DPoP-only challenge (resource-metadata.ts). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from 'jose'
import { htu, importSigningKey, jwkThumbprint, signProof, signProofSync } from '../../src/protocol/dpop-proof.ts'
import { offersOnlyDpop } from '../../src/protocol/resource-metadata.ts'

const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JsonWebKey

test('htu is the URL without its query and fragment (RFC 9449 §4.2)', () => {
  assert.equal(htu('https://api.example/v1/things?x=1#frag'), 'https://api.example/v1/things')
  assert.equal(htu(new URL('HTTPS://API.example:443/a')), 'https://api.example/a')
})

test('the thumbprint is RFC 7638 SHA-256 of the public members, as jose computes it', async () => {
  assert.equal(jwkThumbprint(jwk), await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! }))
})

for (const [name, sign] of [
  ['WebCrypto (getAccessToken().proof)', async (request: Parameters<typeof signProofSync>[1]) => signProof(await importSigningKey(jwk), jwk, request)],
  ['node:crypto (the token fast path)', async (request: Parameters<typeof signProofSync>[1]) => signProofSync(jwk, request)],
] as const) {
  test(`${name}: a dpop+jwt that verifies with its embedded public key, with htm, htu, ath, iat, jti and the nonce; no private member in the header`, async () => {
    const proof = await sign({ method: 'post', url: 'https://api.example/mcp?session=1', accessToken: 'the-token', nonce: 'n-1' })
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })
    assert.equal(protectedHeader.alg, 'ES256')
    assert.equal((protectedHeader.jwk as JsonWebKey).d, undefined)
    assert.equal(payload.htm, 'POST')
    assert.equal(payload.htu, 'https://api.example/mcp')
    assert.equal(payload.ath, createHash('sha256').update('the-token').digest('base64url'))
    assert.equal(payload.nonce, 'n-1')
    assert.ok(Math.abs((payload.iat as number) - Date.now() / 1000) < 5)
    const other = await sign({ method: 'GET', url: 'https://api.example/mcp' })
    const second = await jwtVerify(other, EmbeddedJWK)
    assert.notEqual(second.payload.jti, payload.jti, 'a fresh jti each time')
    assert.equal(second.payload.nonce, undefined)
    assert.equal(second.payload.ath, undefined)
    assert.equal(await calculateJwkThumbprint(decodeProtectedHeader(other).jwk!), jwkThumbprint(jwk))
  })
}

test('the imported signing key is not extractable', async () => {
  const key = await importSigningKey(jwk)
  assert.equal(key.extractable, false)
  await assert.rejects(crypto.subtle.exportKey('jwk', key as CryptoKey))
})

test('a 401 that offers only the DPoP scheme is told apart from one that offers Bearer too', () => {
  assert.equal(offersOnlyDpop('DPoP algs="ES256"'), true)
  assert.equal(offersOnlyDpop('DPoP resource_metadata="https://r.example/m", scope="a b"'), true)
  // A quoted comma is not the start of another challenge.
  assert.equal(offersOnlyDpop('DPoP algs="ES256", error_description="a, b c=d"'), true)
  assert.equal(offersOnlyDpop('DPoP error="use_dpop_nonce", error_description="x"'), true)
  assert.equal(offersOnlyDpop('Bearer realm="x", DPoP algs="ES256"'), false)
  assert.equal(offersOnlyDpop('Bearer resource_metadata="https://r.example/m"'), false)
  assert.equal(offersOnlyDpop(''), false)
})
