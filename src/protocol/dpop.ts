/**
 * DPoP (RFC 9449) at the authorization server, done by openid-client: a fresh ES256 key per login
 * (randomDPoPKeyPair), the handle that signs the proofs of the code exchange, device polling,
 * refresh, userinfo, PAR and revocation (getDPoPHandle; openid-client retries once on
 * `use_dpop_nonce`), and the nonces servers give (`DPoP-Nonce`), kept per origin so a fresh process
 * starts with the last one.
 */
import * as client from 'openid-client'
import { ErrorCode, ProviderError } from '../errors.ts'
import { jwkThumbprint, publicJwk } from './dpop-proof.ts'

/** A login's key: the private JWK (kept with the refresh token) and its thumbprint. */
export interface DpopKey {
  privateJwk: JsonWebKey
  jkt: string
}

/** A fresh ES256 key pair (openid-client), exported once to be stored; every use imports it non-extractable. */
export async function newDpopKey(): Promise<DpopKey> {
  const pair = await client.randomDPoPKeyPair('ES256', { extractable: true })
  const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  const { kty, crv, x, y, d } = privateJwk
  const jwk = { kty, crv, x, y, d }
  return { privateJwk: jwk, jkt: jwkThumbprint(jwk) }
}

/**
 * The server can bind tokens to an ES256 key: refused before the browser opens when its metadata
 * lists DPoP algorithms without ES256 (metadata silent about DPoP: the login tries).
 */
export function assertDpopSupported(metadata: client.ServerMetadata): void {
  const algs = metadata.dpop_signing_alg_values_supported
  if (Array.isArray(algs) && !algs.includes('ES256')) {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the authorization server cannot bind tokens to this tool's key: it lists DPoP algorithms ${algs.join(', ') || '(none)'}, not ES256; log in without DPoP`, {
      error: 'dpop_unsupported',
    })
  }
}

/** What signs the requests of one session: openid-client's handle on the stored key, and the nonces per origin. */
export interface DpopSigner {
  handle: client.DPoPHandle
  /** By origin; updated in place as servers answer with `DPoP-Nonce`. */
  nonces: Record<string, string>
}

/** The handle of openid-client's that signs with the stored key (imported non-extractable), knowing the nonces seen before. */
export async function dpopSigner(config: client.Configuration, privateJwk: JsonWebKey, nonces: Record<string, string> = {}): Promise<DpopSigner> {
  const privateKey = await crypto.subtle.importKey('jwk', privateJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  // The public half goes into every proof's header (openid-client exports it: extractable).
  const publicKey = await crypto.subtle.importKey('jwk', publicJwk(privateJwk), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify'])
  const handle = client.getDPoPHandle(config, { privateKey, publicKey })
  const known = { ...nonces }
  for (const [origin, nonce] of Object.entries(known)) {
    // The handle's own nonce cache (it reads `DPoP-Nonce` from answers), seeded as if the server had just said it.
    ;(handle as unknown as NonceCache).cacheNonce(new Response(null, { headers: { 'dpop-nonce': nonce } }), new URL(origin))
  }
  return { handle, nonces: known }
}

/** A stored session's signer, when its tokens are DPoP-bound. */
export async function sessionSigner(config: client.Configuration, session: { dpopKey?: JsonWebKey; dpopNonces?: Record<string, string> }): Promise<DpopSigner | undefined> {
  return session.dpopKey ? dpopSigner(config, session.dpopKey, session.dpopNonces) : undefined
}

interface NonceCache {
  cacheNonce(response: Response, url: URL): void
  addProof(url: URL, headers: Headers, htm: string, accessToken?: string): Promise<void>
}

/**
 * Runs `work` with every answer's `DPoP-Nonce` remembered in `signer.nonces` (by origin) and, for
 * requests openid-client sends without a proof of its own (token revocation), a proof added.
 */
export async function withDpop<T>(config: client.Configuration, signer: DpopSigner | undefined, work: () => Promise<T>): Promise<T> {
  if (!signer) return work()
  const send = config[client.customFetch] ?? (fetch as unknown as client.CustomFetch)
  const revocation = config.serverMetadata().revocation_endpoint
  config[client.customFetch] = async (url, init) => {
    const target = new URL(url)
    let options = init
    if (revocation !== undefined && target.href === new URL(revocation).href && init.method === 'POST') {
      const headers = new Headers(init.headers as HeadersInit)
      if (!headers.has('dpop')) {
        await (signer.handle as unknown as NonceCache).addProof(target, headers, 'POST')
        const record: Record<string, string> = {}
        headers.forEach((value, name) => (record[name] = value))
        options = { ...init, headers: record }
      }
    }
    const response = await send(url, options)
    const nonce = response.headers.get('dpop-nonce')
    if (nonce) {
      signer.nonces[target.origin] = nonce
      ;(signer.handle as unknown as NonceCache).cacheNonce(response, target)
    }
    return response
  }
  try {
    return await work()
  } finally {
    config[client.customFetch] = send
  }
}

/** The token endpoint's answer to a request that carried a proof must be a DPoP-bound token. */
export function assertDpopBound(tokenType: string, what: string): void {
  if (tokenType.toLowerCase() !== 'dpop') {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the authorization server answered ${what} with a ${tokenType} token, not a DPoP-bound one: it does not support DPoP for this client; log in without DPoP`, {
      error: 'dpop_not_bound',
    })
  }
}
