/** The pure parts of logins without a person: the assertion sources, which grant exchanges an assertion, private keys for private_key_jwt. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { parseAssertionSource } from '../../src/flows/assertion-source.ts'
import { federatedGrantFor, importClientPrivateKey } from '../../src/protocol/machine-grant.ts'
import { UsageError } from '../../src/errors.ts'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

test('parseAssertionSource: github, gitlab:<VAR>, env:<VAR>, file:<path>; anything else is a usage error naming the option', () => {
  assert.deepEqual(parseAssertionSource('github'), { kind: 'github' })
  assert.deepEqual(parseAssertionSource('gitlab:CI_JOB_JWT_V2'), { kind: 'gitlab', variable: 'CI_JOB_JWT_V2' })
  assert.deepEqual(parseAssertionSource('env:MY_TOKEN'), { kind: 'env', variable: 'MY_TOKEN' })
  assert.deepEqual(parseAssertionSource('file:/var/run/secrets/tokens/ci:token'), { kind: 'file', path: '/var/run/secrets/tokens/ci:token' })
  for (const bad of ['jenkins', 'gitlab:', 'env:1ABC', 'env:A-B', 'file:', 'github:x', '']) {
    assert.throws(() => parseAssertionSource(bad), (error: unknown) => error instanceof UsageError && error.option === 'federated', bad)
  }
})

test('federatedGrantFor: JWT bearer when listed or when no grants are listed, else token exchange when listed', () => {
  const as = { issuer: 'https://as.example/' }
  assert.equal(federatedGrantFor(as), 'jwt-bearer')
  assert.equal(federatedGrantFor({ ...as, grant_types_supported: ['authorization_code', JWT_BEARER, TOKEN_EXCHANGE] }), 'jwt-bearer')
  assert.equal(federatedGrantFor({ ...as, grant_types_supported: ['authorization_code', TOKEN_EXCHANGE] }), 'token-exchange')
  assert.equal(federatedGrantFor({ ...as, grant_types_supported: ['authorization_code'] }), 'jwt-bearer')
})

test('importClientPrivateKey: PEM (PKCS #8, SEC 1, PKCS #1) and JWK, non-extractable, signing only; the JWK\'s kid kept', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pkcs8 = await importClientPrivateKey(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  assert.equal(pkcs8.key.type, 'private')
  assert.equal(pkcs8.key.extractable, false)
  assert.deepEqual(pkcs8.key.usages, ['sign'])
  assert.equal((pkcs8.key.algorithm as EcKeyAlgorithm).namedCurve, 'P-256')
  const sec1 = await importClientPrivateKey(ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString())
  assert.equal(sec1.key.algorithm.name, 'ECDSA')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pkcs1 = await importClientPrivateKey(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString())
  assert.equal(pkcs1.key.algorithm.name, 'RSASSA-PKCS1-v1_5')
  const jwk = await importClientPrivateKey(JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'key-1' }))
  assert.equal(jwk.kid, 'key-1')
  const ed = await importClientPrivateKey(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  assert.equal(ed.key.algorithm.name, 'Ed25519')
})

test('importClientPrivateKey: a public key, text that is no key, a key that cannot sign an assertion: a usage error naming privateKey', async () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  // An "alg" that does not go with the key: refused by WebCrypto's import, worded the same way.
  const psOnEc = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), alg: 'PS256' })
  for (const text of ['hello', ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), '{"kty":"EC"}', x25519, psOnEc]) {
    await assert.rejects(importClientPrivateKey(text), (error: unknown) => error instanceof UsageError && error.option === 'privateKey', text.slice(0, 30))
  }
})
