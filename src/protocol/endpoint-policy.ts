/**
 * Plain http is allowed only for a loopback host, endpoint by endpoint (PRODUCT.md, Security): a
 * discovery document that sends any endpoint over http to another host is refused before any
 * request goes there, so no code, verifier or secret ever travels in cleartext.
 */
import type * as client from 'openid-client'
import { ErrorCode, ProviderError } from '../errors.ts'
import { isLoopbackHttp } from './url.ts'

const ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'device_authorization_endpoint',
  'revocation_endpoint',
  'userinfo_endpoint',
  'end_session_endpoint',
  'jwks_uri',
  'pushed_authorization_request_endpoint',
  'introspection_endpoint',
  'registration_endpoint',
] as const

/** The first endpoint that is neither https nor http on loopback: [metadata field, URL]. */
export function insecureEndpoint(metadata: client.ServerMetadata): [string, string] | undefined {
  for (const field of ENDPOINTS) {
    const value = (metadata as Record<string, unknown>)[field]
    if (value === undefined || value === null) continue
    let url: URL | undefined
    try {
      url = new URL(String(value))
    } catch {
      url = undefined
    }
    if (!url || (url.protocol !== 'https:' && !isLoopbackHttp(url))) return [field, String(value)]
  }
  return undefined
}

/** Whether any endpoint (or the issuer) is plain http on loopback: openid-client must be told to allow it. */
export function needsInsecureRequests(metadata: client.ServerMetadata): boolean {
  return [metadata.issuer, ...ENDPOINTS.map((field) => (metadata as Record<string, unknown>)[field])].some((value) => {
    try {
      return typeof value === 'string' && isLoopbackHttp(new URL(value))
    } catch {
      return false
    }
  })
}

/** Throws the one-line ProviderError when an endpoint is not https (or http on loopback). */
export function assertSecureEndpoints(metadata: client.ServerMetadata): void {
  const insecure = insecureEndpoint(metadata)
  if (!insecure) return
  const [field, value] = insecure
  throw new ProviderError(
    ErrorCode.PROVIDER_ERROR,
    `the provider's metadata sends ${field} to ${JSON.stringify(value)}, which is neither https nor http on this machine's loopback: refusing to send anything there`,
    { error: 'insecure_endpoint' },
  )
}
