/** The provider's signing key: generated per start (nothing secret lives in the repository, and no dev-keys notice). */
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createLocalJWKSet, type JWK } from 'jose'

export interface SigningKey {
  /** The private JWK oidc-provider signs with. */
  privateJwk: JWK
  /** The public key set, for verifying what the provider signed. */
  localJwks: ReturnType<typeof createLocalJWKSet>
  /** The same, as JWKs (what another provider that trusts this one is given). */
  publicJwks: { keys: JWK[] }
}

export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomUUID()
  const privateJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, use: 'sig', alg: 'RS256' }
  const publicJwk: JWK = { kty: privateJwk.kty, n: privateJwk.n, e: privateJwk.e, kid, use: 'sig', alg: 'RS256' }
  return { privateJwk, localJwks: createLocalJWKSet({ keys: [publicJwk] }), publicJwks: { keys: [publicJwk] } }
}
