import * as client from 'openid-client'
import { AuthorizationError, CallbackValidationError, causeChain, ErrorCode, ProviderError } from '../errors.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'
import { assertDpopBound, dpopSigner, newDpopKey, withDpop, type DpopKey, type DpopSigner } from './dpop.ts'

/** The secrets of one authorization attempt, each from 256 bits of randomness. */
export interface AuthorizationAttempt {
  state: string
  codeVerifier: string
  codeChallenge: string
  /** Sent, and checked in the ID token, whenever `openid` is in the scope. */
  nonce: string
  /** DPoP (RFC 9449): the login's fresh key (its thumbprint is `dpop_jkt`); the session keeps it. */
  dpopKey?: DpopKey
}

export async function newAttempt(options: { dpop?: boolean } = {}): Promise<AuthorizationAttempt> {
  const codeVerifier = client.randomPKCECodeVerifier()
  const attempt: AuthorizationAttempt = { state: client.randomState(), codeVerifier, codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier), nonce: client.randomNonce() }
  if (options.dpop) attempt.dpopKey = await newDpopKey()
  return attempt
}

function isOpenIdScope(scope: string): boolean {
  return scope.split(/[\s,]+/).includes('openid')
}

export interface AuthorizationUrlParams {
  redirectUri: string
  scope: string
  audience?: string
  organization?: string
  prompt?: string
  loginHint?: string
  /** RFC 9470 step-up: the authentication context classes and the age of the login the resource asks for. */
  acrValues?: string
  maxAge?: number
  /** RFC 8707 */
  resource?: string
}

export function buildAuthorizationUrl(config: client.Configuration, attempt: AuthorizationAttempt, params: AuthorizationUrlParams): URL {
  return client.buildAuthorizationUrl(config, authorizationQuery(attempt, params))
}

export interface ParPolicy {
  /** RFC 9126: push always (true), never (false), or `auto`: when the server requires or offers it. */
  par: 'auto' | boolean
  /** A login finished later (`--no-wait`): `auto` pushes only when the server requires it (a request_uri is short-lived). */
  later?: boolean
  debug: (line: string) => void
}

/** The authorization URL, and how long it is good for when it names a pushed request (`expires_in`). */
export interface AuthorizationRequest {
  url: URL
  /** Seconds the request_uri lives (RFC 9126 §2.2); undefined for a plain request. */
  expiresInS?: number
}

/**
 * The authorization URL, its parameters pushed first (RFC 9126) when the policy says so: the
 * browser then gets `client_id` and `request_uri` only, and what the server refuses (a redirect URI
 * it does not know, a scope) is an error here, before any browser opens. A server that offers PAR
 * but will not take it from this client (`unauthorized_client`) gets the plain request, once.
 */
export async function authorizationRequest(config: client.Configuration, attempt: AuthorizationAttempt, params: AuthorizationUrlParams, policy: ParPolicy): Promise<AuthorizationRequest> {
  const metadata = config.serverMetadata()
  const endpoint = metadata.pushed_authorization_request_endpoint
  const required = metadata.require_pushed_authorization_requests === true
  if (policy.par === true && !endpoint) {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the authorization server has no pushed authorization request endpoint (RFC 9126): log in without PAR', { error: 'par_unsupported' })
  }
  const push = endpoint !== undefined && (policy.par === true || (policy.par === 'auto' && (required || !policy.later)))
  if (!push) return { url: buildAuthorizationUrl(config, attempt, params) }
  const signer = attempt.dpopKey ? await dpopSigner(config, attempt.dpopKey.privateJwk) : undefined
  let expiresInS: number | undefined
  const send = config[client.customFetch] ?? (fetch as unknown as client.CustomFetch)
  config[client.customFetch] = async (url, init) => {
    const response = await send(url, init)
    if (new URL(url).href === new URL(endpoint).href && response.status === 201) {
      const body = (await response.clone().json().catch(() => undefined)) as { expires_in?: unknown } | undefined
      if (typeof body?.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0) expiresInS = body.expires_in
    }
    return response
  }
  try {
    const url = await withDpop(config, signer, () => client.buildAuthorizationUrlWithPAR(config, authorizationQuery(attempt, params), signer ? { DPoP: signer.handle } : undefined))
    policy.debug(`par: pushed to ${endpoint}${expiresInS !== undefined ? `; the request_uri lives ${expiresInS} s` : ''}`)
    return { url, expiresInS }
  } catch (error) {
    const failure = toProviderError(error, 'the pushed authorization request')
    if (policy.par === 'auto' && !required && failure.error === 'unauthorized_client') {
      policy.debug(`par: the server refused a pushed request from this client (${failure.message}); sending the plain request`)
      return { url: buildAuthorizationUrl(config, attempt, params) }
    }
    throw failure
  } finally {
    config[client.customFetch] = send
  }
}

function authorizationQuery(attempt: AuthorizationAttempt, params: AuthorizationUrlParams): Record<string, string> {
  const query: Record<string, string> = {
    redirect_uri: params.redirectUri,
    code_challenge: attempt.codeChallenge,
    code_challenge_method: 'S256',
    state: attempt.state,
  }
  // Scope is optional (RFC 6749 §3.3): a server without metadata may be asked for none.
  if (params.scope) query.scope = params.scope
  if (params.resource) query.resource = params.resource
  if (isOpenIdScope(params.scope)) query.nonce = attempt.nonce
  if (params.audience) query.audience = params.audience
  if (params.organization) query.organization = params.organization
  if (params.prompt) query.prompt = params.prompt
  if (params.loginHint) query.login_hint = params.loginHint
  if (params.acrValues) query.acr_values = params.acrValues
  if (params.maxAge !== undefined) query.max_age = String(params.maxAge)
  if (attempt.dpopKey) query.dpop_jkt = attempt.dpopKey.jkt
  return query
}

/**
 * Validates the callback (state, iss, error) and redeems its code. A callback that fails
 * validation is never redeemed: that is told apart by whether any request was made.
 */
export async function exchangeCode(
  config: client.Configuration,
  callbackUrl: URL,
  attempt: AuthorizationAttempt,
  redirectUri: string,
  idTokenExpected: boolean,
  loginCommand: string,
  resource?: string,
  maxAge?: number,
  nonces?: Record<string, string>,
): Promise<TokenSet> {
  const signer = attempt.dpopKey ? await dpopSigner(config, attempt.dpopKey.privateJwk, nonces) : undefined
  const tokens = await withDpop(config, signer, () => redeem(config, callbackUrl, attempt, redirectUri, idTokenExpected, loginCommand, resource, maxAge, signer))
  if (signer) {
    assertDpopBound(tokens.tokenType, 'the code exchange')
    if (nonces) Object.assign(nonces, signer.nonces)
  }
  return tokens
}

async function redeem(
  config: client.Configuration,
  callbackUrl: URL,
  attempt: AuthorizationAttempt,
  redirectUri: string,
  idTokenExpected: boolean,
  loginCommand: string,
  resource: string | undefined,
  maxAge: number | undefined,
  signer: DpopSigner | undefined,
): Promise<TokenSet> {
  // openid-client validates the callback (state, iss, error) before it makes any request: a
  // request means the callback passed and its code is being redeemed.
  let redeemed = false
  const fetchImpl = config[client.customFetch] ?? (fetch as unknown as client.CustomFetch)
  config[client.customFetch] = (url, options) => {
    redeemed = true
    return fetchImpl(url, options)
  }
  try {
    const response = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: attempt.codeVerifier,
      expectedState: attempt.state,
      idTokenExpected,
      ...(idTokenExpected ? { expectedNonce: attempt.nonce } : {}),
      // RFC 9470 step-up: the ID token's auth_time must be within max_age (openid-client checks it).
      ...(idTokenExpected && maxAge !== undefined ? { maxAge } : {}),
    }, { redirect_uri: redirectUri, ...(resource ? { resource } : {}) }, signer ? { DPoP: signer.handle } : undefined)
    return toTokenSet(response)
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError) {
      throw new AuthorizationError(error.error, error.error_description, { cause: error })
    }
    if (!redeemed) throw new CallbackValidationError(innermostMessage(error), loginCommand, { cause: error })
    throw toProviderError(error, 'the code exchange')
  } finally {
    config[client.customFetch] = fetchImpl
  }
}

/** openid-client wraps the precise reason ('unexpected "iss" …') in a generic error: use the precise one. */
function innermostMessage(error: unknown): string {
  const messages = causeChain(error).filter((e): e is Error => e instanceof Error).map((e) => e.message)
  return messages[messages.length - 1] ?? String(error)
}
