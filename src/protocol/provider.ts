import * as client from 'openid-client'
import { causeChain, ErrorCode, ProviderError } from '../errors.ts'
import { isLoopbackHttp } from './url.ts'
import { assertSecureEndpoints, needsInsecureRequests } from './endpoint-policy.ts'

export interface ProviderParams {
  issuer: string
  clientId: string
  clientSecret?: string
  fetch: typeof fetch
  /** A server that publishes no metadata: its endpoints, given by the user (no discovery). */
  endpoints?: ExplicitEndpoints
}

export interface ExplicitEndpoints {
  authorizationEndpoint?: string
  tokenEndpoint: string
  deviceAuthorizationEndpoint?: string
  revocationEndpoint?: string
  /** Only for the 2025-03-26 revision's default endpoints (an MCP server without any metadata). */
  registrationEndpoint?: string
}

/** The metadata of a server that publishes none, from the endpoints the user gave. */
function metadataFromEndpoints(issuer: string, endpoints: ExplicitEndpoints): client.ServerMetadata {
  return {
    issuer,
    token_endpoint: endpoints.tokenEndpoint,
    ...(endpoints.authorizationEndpoint ? { authorization_endpoint: endpoints.authorizationEndpoint } : {}),
    ...(endpoints.deviceAuthorizationEndpoint ? { device_authorization_endpoint: endpoints.deviceAuthorizationEndpoint } : {}),
    ...(endpoints.revocationEndpoint ? { revocation_endpoint: endpoints.revocationEndpoint } : {}),
    ...(endpoints.registrationEndpoint ? { registration_endpoint: endpoints.registrationEndpoint } : {}),
  }
}

/**
 * openid-client's Configuration for our client from metadata discovered earlier (cached by the
 * caller), with no request at all.
 */
export function configurationFromMetadata(params: ProviderParams, metadata: client.ServerMetadata): client.Configuration {
  assertSecureEndpoints(metadata)
  const config = new client.Configuration(metadata, params.clientId, undefined, clientAuthentication(params.clientSecret))
  secureConfiguration(config)
  config[client.customFetch] = params.fetch as client.CustomFetch
  return config
}

/**
 * ID tokens are verified against the provider's JWKS, over TLS too; insecure (http) requests are
 * allowed only once every endpoint has been checked to be https or loopback http.
 */
function secureConfiguration(config: client.Configuration): void {
  client.enableNonRepudiationChecks(config)
  if (needsInsecureRequests(config.serverMetadata())) client.allowInsecureRequests(config)
}

/** Where the metadata came from: `openid` when OpenID discovery answered (an OpenID provider). */
export interface DiscoveredProvider {
  config: client.Configuration
  openid: boolean
}

/**
 * The order in which the well-known URLs are tried. `oidc-first` (an issuer the user gave): OpenID
 * discovery, then RFC 8414 with the path inserted, then OpenID with the path inserted. `mcp` (an
 * authorization server a protected resource names, as the MCP authorization spec lists): RFC 8414
 * path-inserted, OpenID path-inserted, OpenID path-appended; without a path RFC 8414, then OpenID;
 * and the metadata's `issuer` must equal the issuer exactly (no normalization).
 */
export type DiscoveryOrder = 'oidc-first' | 'mcp'

/** Fetches the provider's discovery document and returns openid-client's Configuration for our client. */
export async function discoverProvider(params: ProviderParams & { order?: DiscoveryOrder; originAsIssuer?: boolean }): Promise<DiscoveredProvider> {
  if (params.endpoints) return { config: configurationFromMetadata(params, metadataFromEndpoints(params.issuer, params.endpoints)), openid: false }
  const issuer = new URL(params.issuer)
  // Only the discovery requests themselves may be loopback http here; the endpoints are checked
  // (configurationFromMetadata) before anything else is sent anywhere.
  const discover = (server: URL, algorithm: 'oidc' | 'oauth2') =>
    client.discovery(server, params.clientId, undefined, clientAuthentication(params.clientSecret), {
      algorithm,
      execute: isLoopbackHttp(issuer) ? [client.allowInsecureRequests] : [],
      [client.customFetch]: params.fetch as client.CustomFetch,
    })
  const variants = wellKnownVariants(issuer, params.order ?? 'oidc-first', discover)
  const found = await firstAnswer(issuer, variants)
  const metadata = found.config.serverMetadata()
  // An origin taken as the issuer (the 2025-03-26 revision) is named by nobody: with or without its
  // trailing slash it builds the same well-known URL, so either is that server's.
  const named = params.originAsIssuer ? [params.issuer, `${params.issuer}/`] : [params.issuer]
  if (params.order === 'mcp' && !named.includes(metadata.issuer)) {
    throw new ProviderError(
      ErrorCode.PROVIDER_ERROR,
      `the authorization server metadata of ${params.issuer} names another issuer (${JSON.stringify(metadata.issuer)}): it is not used`,
      { error: 'issuer_mismatch' },
    )
  }
  return { config: configurationFromMetadata(params, metadata), openid: found.openid }
}

interface Variant {
  url: string
  openid: boolean
  fetch: () => Promise<client.Configuration>
}

function wellKnownVariants(issuer: URL, order: DiscoveryOrder, discover: (server: URL, algorithm: 'oidc' | 'oauth2') => Promise<client.Configuration>): Variant[] {
  const path = issuer.pathname.replace(/\/$/, '')
  const appended: Variant = { url: discoveryUrl(issuer), openid: true, fetch: () => discover(issuer, 'oidc') }
  const rfc8414: Variant = { url: new URL(`/.well-known/oauth-authorization-server${path}`, issuer).href, openid: false, fetch: () => discover(issuer, 'oauth2') }
  const insertedUrl = new URL(`/.well-known/openid-configuration${path}`, issuer)
  const inserted: Variant = {
    url: insertedUrl.href,
    openid: true,
    fetch: async () => {
      const config = await discover(insertedUrl, 'oidc')
      // openid-client checks the issuer only when it builds the well-known URL itself.
      const named = config.serverMetadata().issuer
      if (new URL(named).href !== issuer.href) {
        throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered discovery at ${insertedUrl.href} for another issuer (${JSON.stringify(named)})`, { error: 'issuer_mismatch' })
      }
      return config
    },
  }
  if (order === 'oidc-first') return path ? [appended, rfc8414, inserted] : [appended, rfc8414]
  return path ? [rfc8414, inserted, appended] : [rfc8414, appended]
}

/**
 * The first well-known URL that answers. Only where there is no document at all (an HTTP error) is
 * the next one tried: a document that is there but wrong (another issuer…) is an answer, not a
 * reason to look elsewhere. When none answers, the first one's error says why.
 */
async function firstAnswer(issuer: URL, variants: Variant[]): Promise<{ config: client.Configuration; openid: boolean }> {
  let first: ProviderError | undefined
  for (const variant of variants) {
    try {
      return { config: await variant.fetch(), openid: variant.openid }
    } catch (error) {
      const failure = toProviderError(error, `discovery at ${variant.url}`)
      if (failure.status === undefined || failure.status < 400) throw failure
      first ??= failure
    }
  }
  throw first ?? new ProviderError(ErrorCode.PROVIDER_ERROR, `no discovery document for ${issuer.href}`)
}

function discoveryUrl(issuer: URL): string {
  return new URL('.well-known/openid-configuration', issuer.href.endsWith('/') ? issuer : `${issuer.href}/`).href
}

/**
 * A public client sends no secret. With a secret, it goes in the body unless the provider's
 * discovery lists only client_secret_basic.
 */
function clientAuthentication(secret: string | undefined): client.ClientAuth {
  if (!secret) return client.None()
  const post = client.ClientSecretPost(secret)
  const basic = clientSecretBasic(secret)
  return (as, c, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported
    const onlyBasic = Array.isArray(methods) && methods.length > 0 && methods.every((m) => m === 'client_secret_basic')
    return (onlyBasic ? basic : post)(as, c, body, headers)
  }
}

/**
 * HTTP Basic client authentication (RFC 6749 §2.3.1): the client id and secret form-urlencoded, then
 * base64. openid-client escapes every character but letters and digits (`-` as `%2D`), which the RFC
 * allows and servers that do not decode refuse; the unreserved characters (`A-Z a-z 0-9 - . _ ~`)
 * are left as they are, as most clients send them. Plugged in where openid-client takes a client
 * authentication method, so the token request itself stays openid-client's.
 */
export function clientSecretBasic(secret: string): client.ClientAuth {
  return (_as, c, _body, headers) => {
    const credentials = `${formEncode(c.client_id)}:${formEncode(secret)}`
    headers.set('authorization', `Basic ${Buffer.from(credentials).toString('base64')}`)
  }
}

/** application/x-www-form-urlencoded, leaving RFC 3986's unreserved characters unescaped. */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

/** Turns what openid-client or fetch threw into a one-line ProviderError. */
export function toProviderError(error: unknown, what: string): ProviderError {
  if (error instanceof ProviderError) return error
  // openid-client wraps what our fetch threw ("something went wrong"): the cap's own words are clearer.
  const tooLarge = causeChain(error).find((e) => e instanceof Error && e.name === 'AnswerTooLargeError') as Error | undefined
  if (tooLarge) return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: ${tooLarge.message}`, { cause: error })
  if (error instanceof client.ResponseBodyError) {
    const description = error.error_description ? `: ${error.error_description}` : ''
    return new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered ${what} with ${error.error}${description}`, {
      error: error.error,
      errorDescription: error.error_description,
      status: error.status,
      cause: error,
    })
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    // cause: the parsed challenges, e.g. [{ scheme: 'bearer', parameters: { error: 'invalid_token' } }]
    const challenge = (error.cause as Array<{ scheme?: string; parameters?: Record<string, string> }> | undefined)?.[0]
    const oauthError = challenge?.parameters?.error
    return new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered ${what} with HTTP ${error.status}${oauthError ? ` (${oauthError})` : ''}`, {
      error: oauthError,
      status: error.status,
      cause: error,
    })
  }
  const code = (error as { code?: string }).code
  const certificate = certificateError(error)
  if (certificate) {
    return new ProviderError(
      ErrorCode.PROVIDER_UNREACHABLE,
      `the provider's TLS certificate is not trusted for ${what} (${certificate}): if a private CA signs it, set NODE_EXTRA_CA_CERTS to that CA's certificate file`,
      { cause: error },
    )
  }
  const networkCode = networkErrorCode(error)
  if (networkCode) {
    return new ProviderError(ErrorCode.PROVIDER_UNREACHABLE, `could not reach the provider for ${what}: ${networkCode}; check the issuer URL, your network and proxy settings`, { cause: error })
  }
  const invalid = invalidAnswer(error)
  if (invalid) return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: the provider's answer ${invalid}`, { cause: error })
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON' || code === 'OAUTH_PARSE_ERROR') {
    const status = (error as { cause?: { status?: number } }).cause?.status
    const got = typeof status === 'number' ? `HTTP ${status}` : 'an invalid answer'
    return new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered ${what} with ${got} that is not a valid OAuth response; try again later`, { status, cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: ${message}`, { cause: error })
}

/**
 * What is wrong with an answer openid-client refused as invalid ("invalid response encountered"):
 * the field and the rule, from the error it wraps ('"response" body "client_id" property must be a
 * string'), or the value that does not match the expected one.
 */
function invalidAnswer(error: unknown): string | undefined {
  const code = (error as { code?: string }).code
  if (code !== 'OAUTH_INVALID_RESPONSE' && code !== 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') return undefined
  const inner = causeChain(error).filter((e): e is Error => e instanceof Error).at(-1)
  const detail = inner?.message.replace(/^"response" body /, 'has its ').replace(/ property /, ' ')
  const { expected, attribute, body } = (inner?.cause ?? {}) as { expected?: unknown; attribute?: string; body?: Record<string, unknown> }
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && attribute && body) return `names ${JSON.stringify(body[attribute])} as its "${attribute}", not ${JSON.stringify(expected)}`
  return detail
}

/** Node's certificate verification failures: UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, ERR_TLS_CERT_ALTNAME_INVALID, … */
function certificateError(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const { code, message } = e as { code?: string; message?: string }
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) return message ? `${code}: ${message}` : code
  }
  return undefined
}

/** The errno-style code (ECONNREFUSED, ENOTFOUND, …) of a fetch failure, or what timed out. */
function networkErrorCode(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const { name, code, message } = e as { name?: string; code?: string; message?: string }
    // provider-fetch.ts's bound: its message says which (connection or answer) and how long.
    if (name === 'RequestTimeoutError' && message) return message
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out'
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code
  }
  if (error instanceof TypeError && error.message === 'fetch failed') return 'network error'
  return undefined
}
