/**
 * A DPoP proof (RFC 9449 §4) for a request to a protected resource, with the platform's WebCrypto
 * only: `getAccessToken().proof()` and the `token --format dpop` fast path sign here (the requests
 * to the authorization server are signed by openid-client, protocol/dpop.ts). The private key is
 * imported non-extractable.
 */
import type { JsonWebKey as NodeJwk, webcrypto } from 'node:crypto'

const ES256 = { name: 'ECDSA', namedCurve: 'P-256' } as const

/**
 * node:crypto when a proof is made, not when this module loads: `cli-login token` bundles it, and
 * loading node:crypto costs a cached `token` a fifth of Node's own start.
 */
function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto')
}

/** The private key, imported for signing only (never extractable). */
export function importSigningKey(privateJwk: JsonWebKey): Promise<webcrypto.CryptoKey> {
  return nodeCrypto().webcrypto.subtle.importKey('jwk', privateJwk, ES256, false, ['sign'])
}

/** The public half of an ES256 JWK, in the members RFC 7638 uses. */
export function publicJwk(jwk: JsonWebKey): { kty: string; crv: string; x: string; y: string } {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new TypeError('not an ES256 key')
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }
}

/** The JWK SHA-256 thumbprint (RFC 7638), as `dpop_jkt` and `cnf.jkt` carry it. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const { crv, kty, x, y } = publicJwk(jwk)
  return nodeCrypto().createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url')
}

/** `htu`: the URL without its query and fragment (RFC 9449 §4.2). */
export function htu(url: string | URL): string {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

export interface ProofRequest {
  method: string
  url: string | URL
  /** The access token the proof goes with (its hash is `ath`). */
  accessToken?: string
  nonce?: string
  /** Epoch seconds (default: now). */
  iat?: number
}

/** A signed `dpop+jwt` for one request. */
export async function signProof(key: webcrypto.CryptoKey, jwk: JsonWebKey, request: ProofRequest): Promise<string> {
  const input = signingInput(jwk, request)
  const signature = await nodeCrypto().webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(input))
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

/**
 * The same, synchronously with node:crypto's own ECDSA (for the short-lived `token` fast path,
 * where WebCrypto's start-up would cost more than the signature): the key is a KeyObject that lives
 * only as long as this call.
 */
export function signProofSync(jwk: JsonWebKey, request: ProofRequest): string {
  const input = signingInput(jwk, request)
  const { createPrivateKey, sign } = nodeCrypto()
  const signature = sign('sha256', Buffer.from(input), { key: createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

function signingInput(jwk: JsonWebKey, request: ProofRequest): string {
  const { createHash, randomBytes } = nodeCrypto()
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(jwk) }
  const payload = {
    iat: request.iat ?? Math.floor(Date.now() / 1000),
    jti: randomBytes(16).toString('base64url'),
    htm: request.method.toUpperCase(),
    htu: htu(request.url),
    ...(request.accessToken !== undefined ? { ath: createHash('sha256').update(request.accessToken).digest('base64url') } : {}),
    ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
  }
  return `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64url')
}
