/**
 * The token requests of logins without a person, all openid-client's: the client credentials grant
 * (RFC 6749 §4.4, SEP-1046), the JWT bearer grant (RFC 7523 §2.1) and token exchange (RFC 8693) of
 * an assertion, and the key private_key_jwt signs client assertions with (RFC 7523 §2.2).
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto'
import * as client from 'openid-client'
import { UsageError } from '../errors.ts'
import type { MachineGrant } from '../options.ts'
import type { ClientPrivateKey } from './provider.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
/** RFC 8693 §3: what a CI platform's OIDC token is. */
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

export interface GrantRequest {
  grant: MachineGrant
  /** jwt-bearer, token-exchange: the assertion (subject token). */
  assertion?: string
  scope?: string
  resource?: string
}

/** One grant at the token endpoint; a refusal is a ProviderError with the server's `error` and status. */
export async function requestMachineGrant(config: client.Configuration, request: GrantRequest): Promise<TokenSet> {
  const parameters: Record<string, string> = {}
  if (request.scope) parameters.scope = request.scope
  if (request.resource) parameters.resource = request.resource
  try {
    if (request.grant === 'client-credentials') return toTokenSet(await client.clientCredentialsGrant(config, parameters))
    const assertion = request.assertion ?? ''
    if (request.grant === 'jwt-bearer') return toTokenSet(await client.genericGrantRequest(config, JWT_BEARER_GRANT, { ...parameters, assertion }))
    return toTokenSet(await client.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, { ...parameters, subject_token: assertion, subject_token_type: JWT_TOKEN_TYPE }))
  } catch (error) {
    throw toProviderError(error, grantWords(request.grant))
  }
}

const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'
const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag'

/**
 * Enterprise-managed authorization (SEP-990): the identity provider exchanges the user's ID token
 * (RFC 8693) for an Identity Assertion JWT Authorization Grant for another authorization server
 * (`audience`, its issuer) and a resource there; that server takes it as a JWT bearer assertion.
 */
export async function requestIdJag(idp: client.Configuration, request: { idToken: string; audience: string; resource?: string; scope?: string }): Promise<string> {
  const parameters: Record<string, string> = {
    subject_token: request.idToken,
    subject_token_type: ID_TOKEN_TYPE,
    requested_token_type: ID_JAG_TOKEN_TYPE,
    audience: request.audience,
  }
  if (request.resource) parameters.resource = request.resource
  if (request.scope) parameters.scope = request.scope
  let answer
  try {
    answer = await client.genericGrantRequest(idp, TOKEN_EXCHANGE_GRANT, parameters)
  } catch (error) {
    throw toProviderError(error, 'the exchange of the ID token for an authorization grant (ID-JAG)')
  }
  if (answer.issued_token_type !== undefined && answer.issued_token_type !== ID_JAG_TOKEN_TYPE) {
    throw toProviderError(new Error(`the identity provider issued a ${String(answer.issued_token_type)}, not an ID-JAG`), 'the exchange of the ID token')
  }
  return answer.access_token
}

export function grantWords(grant: MachineGrant): string {
  return grant === 'client-credentials' ? 'the client credentials grant' : grant === 'jwt-bearer' ? 'the JWT bearer grant (the assertion)' : 'the token exchange (the assertion)'
}

/**
 * Which grant exchanges a federated assertion when none was asked for (PRODUCT.md): JWT bearer when
 * the server's metadata lists it, or lists no grants at all; else token exchange when it lists that.
 */
export function federatedGrantFor(metadata: client.ServerMetadata): 'jwt-bearer' | 'token-exchange' {
  const listed = metadata.grant_types_supported
  if (!Array.isArray(listed) || listed.includes(JWT_BEARER_GRANT)) return 'jwt-bearer'
  return listed.includes(TOKEN_EXCHANGE_GRANT) ? 'token-exchange' : 'jwt-bearer'
}

/** The signing algorithm of a key, as JWS names it. */
function algorithmOf(jwk: JsonWebKey): { alg: string; params: RsaHashedImportParams | EcKeyImportParams | Algorithm } {
  if (typeof jwk.alg === 'string' && jwk.alg.startsWith('PS')) return { alg: jwk.alg, params: { name: 'RSA-PSS', hash: `SHA-${jwk.alg.slice(2)}` } }
  if (jwk.kty === 'RSA') {
    const alg = typeof jwk.alg === 'string' && jwk.alg.startsWith('RS') ? jwk.alg : 'RS256'
    return { alg, params: { name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${alg.slice(2)}` } }
  }
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384' || jwk.crv === 'P-521')) {
    return { alg: { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv], params: { name: 'ECDSA', namedCurve: jwk.crv } }
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { alg: 'EdDSA', params: { name: 'Ed25519' } }
  throw UsageError.forOption('privateKey', `is a ${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''} key, which cannot sign a client assertion (RSA, EC P-256/384/521 or Ed25519)`)
}

/**
 * The private key for private_key_jwt from its text (PEM — PKCS #8, SEC 1 or PKCS #1 — or a JWK),
 * imported non-extractable. A key that is not one: UsageError naming the option.
 */
export async function importClientPrivateKey(text: string): Promise<ClientPrivateKey> {
  let jwk: JsonWebKey
  try {
    const trimmed = text.trim()
    const keyObject = trimmed.startsWith('{') ? createPrivateKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' }) : createPrivateKey(trimmed)
    const given = trimmed.startsWith('{') ? (JSON.parse(trimmed) as JsonWebKey) : {}
    jwk = { ...keyObject.export({ format: 'jwk' }), ...(typeof given.alg === 'string' ? { alg: given.alg } : {}), ...(typeof given.kid === 'string' ? { kid: given.kid } : {}) }
  } catch {
    throw UsageError.forOption('privateKey', 'is not a private key (PEM or JWK)')
  }
  const { params } = algorithmOf(jwk)
  const { kid, alg: _alg, key_ops: _ops, use: _use, ...material } = jwk as JsonWebKey & { kid?: string }
  let key: CryptoKey
  try {
    key = await crypto.subtle.importKey('jwk', material, params, false, ['sign'])
  } catch (error) {
    // e.g. an "alg" that does not go with the key (PS256 on an EC key)
    throw UsageError.forOption('privateKey', `cannot be used to sign (${(error as Error).message})`)
  }
  return typeof kid === 'string' ? { key, kid } : { key }
}
