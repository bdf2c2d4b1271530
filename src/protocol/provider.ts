import * as client from 'openid-client'
import { causeChain, ErrorCode, ProviderError } from '../errors.ts'
import { isLoopbackHttp } from './url.ts'
import { rfc3339 } from '../time.ts'
import { assertSecureEndpoints, needsInsecureRequests } from './endpoint-policy.ts'

export interface ProviderParams {
  issuer: string
  clientId: string
  clientSecret?: string
  /** private_key_jwt (RFC 7523 §2.2): the client authenticates with an assertion signed by this key. */
  clientKey?: ClientPrivateKey
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

/** A private key as openid-client signs client assertions with it. */
export interface ClientPrivateKey {
  key: CryptoKey
  kid?: string
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

/** How far the provider's clock may be from ours (PRODUCT.md: ±5 min); beyond, clockDifference() says by how much. */
const CLOCK_TOLERANCE_S = 300

/**
 * openid-client's Configuration for our client from metadata discovered earlier (cached by the
 * caller), with no request at all.
 */
export function configurationFromMetadata(params: ProviderParams, metadata: client.ServerMetadata): client.Configuration {
  assertSecureEndpoints(metadata)
  const config = new client.Configuration(metadata, params.clientId, { [client.clockTolerance]: CLOCK_TOLERANCE_S }, clientAuthentication(params.clientSecret, params.clientKey))
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

/** A provider's key set as cached between processes (PRODUCT.md: one request per refresh). */
export interface CachedJwks {
  keys: unknown[]
  /** Epoch seconds. */
  fetchedAt: number
}

/** What openid-client was given, per configuration: a refetch shows as another `uat`. */
const jwksGiven = new WeakMap<client.Configuration, number>()

/**
 * Lets openid-client verify ID tokens with a key set fetched earlier (no request). It is handed
 * over a minute old: openid-client refetches a key set at least that old when an ID token names a
 * key it does not have (a provider that rotated its keys), and uses it up to 5 minutes.
 */
export function useCachedJwks(config: client.Configuration, jwks: CachedJwks): void {
  const uat = Math.floor(Date.now() / 1000) - 60
  client.setJwksCache(config, { jwks: { keys: jwks.keys } as client.JWKS, uat })
  jwksGiven.set(config, uat)
}

/** The key set one configuration holds, handed to another for the same provider (another client). */
export function copyJwksCache(from: client.Configuration, to: client.Configuration): void {
  const cache = client.getJwksCache(from)
  if (!cache) return
  client.setJwksCache(to, cache)
  const given = jwksGiven.get(from)
  if (given !== undefined) jwksGiven.set(to, given)
}

/** The key set openid-client fetched for this configuration (to cache), undefined when it fetched none. */
export function fetchedJwks(config: client.Configuration): CachedJwks | undefined {
  const cache = client.getJwksCache(config)
  if (!cache || cache.uat === jwksGiven.get(config) || !Array.isArray(cache.jwks?.keys)) return undefined
  return { keys: cache.jwks.keys, fetchedAt: cache.uat }
}

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
function clientAuthentication(secret: string | undefined, privateKey?: ClientPrivateKey): client.ClientAuth {
  if (privateKey) return client.PrivateKeyJwt(privateKey)
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
  const clock = clockDifference(error)
  if (clock) return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: ${clock}`, { error: 'clock_skew', cause: error })
  const invalid = invalidField(error)
  if (invalid) return new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered ${what} with ${invalid}`, { error: 'invalid_response', cause: error })
  const claim = claimMismatch(error)
  if (claim) {
    const other = claim === 'iss' ? 'another issuer' : claim === 'aud' ? 'another audience (client)' : 'another authorized party'
    return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: the ID token names ${other} (its "${claim}" claim)`, { error: `${claim}_mismatch`, cause: error })
  }
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
  const mismatch = mismatchedAnswer(error)
  if (mismatch) return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: the provider's answer ${mismatch}`, { cause: error })
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON' || code === 'OAUTH_PARSE_ERROR') {
    const status = (error as { cause?: { status?: number } }).cause?.status
    const got = typeof status === 'number' ? `HTTP ${status}` : 'an invalid answer'
    return new ProviderError(ErrorCode.PROVIDER_ERROR, `the provider answered ${what} with ${got} that is not a valid OAuth response; try again later`, { status, cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} failed: ${message}`, { cause: error })
}

/**
 * A provider's answer that openid-client found to compare wrongly ("invalid response encountered"):
 * the value that does not match the expected one.
 */
function mismatchedAnswer(error: unknown): string | undefined {
  if ((error as { code?: unknown }).code !== 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') return undefined
  // openid-client's ClientError wraps the comparison's data: { expected, attribute, body }.
  const data = causeChain(error).map((e) => (e as { cause?: unknown }).cause).find((cause) => typeof cause === 'object' && cause !== null && 'attribute' in cause)
  const { expected, attribute, body } = (data ?? {}) as { expected?: unknown; attribute?: string; body?: Record<string, unknown> }
  if (!attribute || !body) return undefined
  return `names ${JSON.stringify(body[attribute])} as its "${attribute}", not ${JSON.stringify(expected)}`
}

/** The processing error of oauth4webapi's inside openid-client's wrapper: its code and its data. */
function processingError(error: unknown, code: string): { message: string; cause?: Record<string, unknown> } | undefined {
  return causeChain(error).find((e) => (e as { code?: unknown }).code === code && (e as { name?: unknown }).name === 'OperationProcessingError') as
    | { message: string; cause?: Record<string, unknown> }
    | undefined
}

/** An ID token's time claims refused (PRODUCT.md: beyond ±5 min of skew): by how much the clocks differ. */
export function clockDifference(error: unknown): string | undefined {
  const check = processingError(error, 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED')
  const claims = check?.cause?.claims as Record<string, unknown> | undefined
  const now = check?.cause?.now
  if (!claims || typeof now !== 'number') return undefined
  // When the provider issued it, by its clock: iat, else what nbf or exp say of it.
  const stamp = [claims.iat, claims.nbf].find((value): value is number => typeof value === 'number')
  const exp = typeof claims.exp === 'number' ? claims.exp : undefined
  const ahead = stamp !== undefined ? stamp - now : exp !== undefined ? exp - now : undefined
  if (ahead === undefined) return undefined
  const minutes = Math.max(1, Math.round(Math.abs(ahead) / 60))
  const whose = ahead > 0 ? "the provider's clock is ahead of this machine's" : "the provider's clock is behind this machine's"
  const by = stamp !== undefined ? `by about ${minutes} min` : `by more than ${minutes} min`
  return `the clocks differ: ${whose} ${by} (more than the ${CLOCK_TOLERANCE_S / 60} min tolerated; this machine says ${rfc3339(now)}): set this machine's clock right (e.g. turn on network time), then try again`
}

/** `"response" body "expires_in" property must be a number` → `an "expires_in" that is not a number`. */
function invalidField(error: unknown): string | undefined {
  const invalid = processingError(error, 'OAUTH_INVALID_RESPONSE')
  const match = invalid && /"response" body "([A-Za-z0-9_]+)" property must be (?:an? )?(.+)$/.exec(invalid.message)
  if (!match) return undefined
  const [, field, kind] = match
  const article = (word: string) => (/^[aeiou]/i.test(word) ? 'an' : 'a')
  return `${article(field)} "${field}" that is not ${article(kind)} ${kind}`
}

/** The ID token names another issuer or audience (or authorized party) than expected. */
export function claimMismatch(error: unknown): 'iss' | 'aud' | 'azp' | undefined {
  const claim = processingError(error, 'OAUTH_JWT_CLAIM_COMPARISON_FAILED')?.cause?.claim
  return claim === 'iss' || claim === 'aud' || claim === 'azp' ? claim : undefined
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
