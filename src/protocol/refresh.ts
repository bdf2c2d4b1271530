import * as client from 'openid-client'
import { ProviderError } from '../errors.ts'
import { patientTimeout } from '../net/patient-timeout.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'
import { withDpop, type DpopSigner } from './dpop.ts'

export interface RefreshOptions {
  /** Another API (`audience`, `resource`) or a narrower `scope`. */
  parameters?: Record<string, string>
  /**
   * Told the token endpoint's successful answer (its JSON) the moment it has arrived, before
   * openid-client looks at it (ID token validation, a JWKS fetch): the provider may have rotated
   * the refresh token in it, so the caller stores it now. Awaited; what it throws is thrown.
   */
  onAnswer?: (answer: Record<string, unknown>) => Promise<void>
  /** A DPoP session's signer: the refresh carries a proof (a public client's refresh token is bound too). */
  signer?: DpopSigner
}

/** How the refresh ended when it did not succeed: whether the answer had arrived (and was handed to onAnswer). */
export class RefreshFailure extends Error {
  readonly failure: ProviderError
  readonly answered: boolean
  constructor(failure: ProviderError, answered: boolean) {
    super(failure.message, { cause: failure })
    this.failure = failure
    this.answered = answered
  }
}

/**
 * Redeems the refresh token (RFC 6749 §6) through openid-client, whose own fetch seam
 * (customFetch) hands the raw answer to `onAnswer` before openid-client validates it.
 * Fails with RefreshFailure.
 */
export async function refreshTokens(config: client.Configuration, refreshToken: string, options: RefreshOptions = {}): Promise<TokenSet> {
  const send = config[client.customFetch] ?? (fetch as unknown as client.CustomFetch)
  const isTokenRequest = tokenRequestTest(config)
  let answered = false
  let storeFailure: unknown
  config[client.customFetch] = async (url, init) => {
    if (!isTokenRequest(url, init)) return send(url, init)
    const limit = patientSignal(REFRESH_TIMEOUT_MS)
    let response: Response
    try {
      response = await send(url, { ...init, signal: limit.signal })
    } finally {
      limit.clear()
    }
    const answer = response.status === 200 ? await jsonObject(response.clone()) : undefined
    if (answer && options.onAnswer) {
      try {
        await options.onAnswer(answer)
        answered = true
      } catch (error) {
        storeFailure = error
        throw error
      }
    }
    return response
  }
  try {
    const { signer } = options
    const dpop = signer ? { DPoP: signer.handle } : undefined
    return toTokenSet(await withDpop(config, signer, () => client.refreshTokenGrant(config, refreshToken, options.parameters ?? {}, dpop)))
  } catch (error) {
    if (storeFailure !== undefined) throw storeFailure
    throw new RefreshFailure(toProviderError(error, 'the token refresh'), answered)
  } finally {
    config[client.customFetch] = send
  }
}

/**
 * Verifies a token answer stored earlier without sending anything: openid-client gets it as the
 * token endpoint's answer to a refresh (customFetch answers in the provider's place) and validates
 * its ID token as it validates every refresh's (signature against the JWKS, `iss`, `aud`, `exp`).
 * Only the JWKS may be fetched.
 */
export async function verifyStoredAnswer(config: client.Configuration, answer: Record<string, unknown>): Promise<TokenSet> {
  const send = config[client.customFetch] ?? (fetch as unknown as client.CustomFetch)
  const isTokenRequest = tokenRequestTest(config)
  config[client.customFetch] = async (url, init) => {
    if (!isTokenRequest(url, init)) return send(url, init)
    return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } })
  }
  try {
    return toTokenSet(await client.refreshTokenGrant(config, 'stored-answer'))
  } catch (error) {
    throw toProviderError(error, 'the ID token check of the last refresh')
  } finally {
    config[client.customFetch] = send
  }
}

/**
 * The provider will not honour the refresh token again: invalid_grant (revoked, expired, reused),
 * or any 400/401, with or without a valid OAuth error body (some providers answer a reused token
 * with an empty 400). A 5xx, 429 or network failure is not: the session stays as it is.
 */
export function isRefreshRejected(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false
  return error.error === 'invalid_grant' || error.status === 400 || error.status === 401
}

/** What openid-client gives a request too (30 s). */
const REFRESH_TIMEOUT_MS = 30_000

/**
 * The refresh request's time limit, in place of openid-client's AbortSignal.timeout: one that a
 * process suspended past it does not trip before it has read the answer that came meanwhile.
 */
function patientSignal(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController()
  const clear = patientTimeout(ms, () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')))
  return { signal: controller.signal, clear }
}

function tokenRequestTest(config: client.Configuration): (url: string, init: client.CustomFetchOptions) => boolean {
  const endpoint = config.serverMetadata().token_endpoint
  const href = endpoint === undefined ? undefined : new URL(endpoint).href
  return (url, init) => init.method === 'POST' && href !== undefined && new URL(url).href === href
}

async function jsonObject(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await response.text())
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
