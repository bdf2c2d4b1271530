import * as client from 'openid-client'
import { AuthorizationError, CallbackValidationError, causeChain } from '../errors.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'

/** The secrets of one authorization attempt, each from 256 bits of randomness. */
export interface AuthorizationAttempt {
  state: string
  codeVerifier: string
  codeChallenge: string
  /** Sent, and checked in the ID token, whenever `openid` is in the scope. */
  nonce: string
}

export async function newAttempt(): Promise<AuthorizationAttempt> {
  const codeVerifier = client.randomPKCECodeVerifier()
  return { state: client.randomState(), codeVerifier, codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier), nonce: client.randomNonce() }
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
  return client.buildAuthorizationUrl(config, query)
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
    }, { redirect_uri: redirectUri, ...(resource ? { resource } : {}) })
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
