/**
 * `auth.fetch(url, init)`: one request with the session's token (PRODUCT.md, "Authenticated
 * requests"). The token goes only to the session's origins (refused before anything is sent); a
 * 3xx is returned as it is (never followed with the token); a 401 `invalid_token` gets one forced
 * refresh and one retry; a 403 step-up challenge a new login (only when interactive) or the error;
 * DPoP-bound tokens a fresh proof per request and the resource's nonce honoured once. The response
 * is the platform's (its body streams).
 */
import type { LoginContext } from '../context.ts'
import { LoginRequiredError, OriginNotAllowedError, UsageError } from '../errors.ts'
import type { AuthFetchInit, GetAccessTokenOptions } from '../library-options.ts'
import { isInvalidToken, isUseDpopNonce, stepUpOf } from '../net/www-authenticate.ts'
import { sessionOrigins } from '../session/origins.ts'
import type { AccessToken, Session } from '../session/session.ts'
import { readUsableSession } from './access-token.ts'
import { stepUpError, stepUpLogin } from './step-up.ts'

/** At most this many re-authorizations (step-up logins) for one request (PRODUCT.md, MCP: step-up). */
export const MAX_REAUTHORIZATIONS = 3

export interface FetchDeps {
  token(options: GetAccessTokenOptions): Promise<AccessToken>
  /** A new login (the browser), with the challenge that asked for it. */
  login(challenge: string | undefined): Promise<unknown>
}

export async function authenticatedFetch(ctx: LoginContext, deps: FetchDeps, input: string | URL, init: AuthFetchInit = {}): Promise<Response> {
  const { interactive = false, allowOrigins = [], refusedWith, ...request } = init
  const url = requestUrl(input)
  const session = await readUsableSession(ctx, true).catch(async (error: unknown) => {
    // No usable session: an interactive call logs in first (the origins are then the new session's).
    if (!interactive || !(error instanceof LoginRequiredError)) throw error
    await deps.login(undefined)
    return readUsableSession(ctx)
  })
  assertOrigin(session, [...(ctx.options.allowOrigins ?? []), ...allowOrigins], url)
  const fetchImpl = ctx.options.fetch ?? globalThis.fetch
  const signal = ctx.signal && request.signal ? AbortSignal.any([ctx.signal, request.signal]) : (request.signal ?? ctx.signal)
  // A body that can be read once (a stream) is sent once: no retry then.
  const replayable = !(request.body instanceof ReadableStream)
  const method = (request.method ?? 'GET').toUpperCase()
  let refreshed = false
  let loggedInAgain = false
  let reauthorizations = 0
  let lastStepUp: string | undefined
  let forceRefresh = false
  // The caller sent it already and was refused (refusedWith): that answer is acted on first.
  let refusal: { status: number; challenge: string } | undefined =
    refusedWith === undefined ? undefined : isInvalidToken(refusedWith) ? { status: 401, challenge: refusedWith } : stepUpOf(refusedWith) ? { status: 403, challenge: refusedWith } : undefined
  for (;;) {
    let response: Response | undefined
    let status: number
    let challenge: string
    if (refusal) {
      ;({ status, challenge } = refusal)
      refusal = undefined
    } else {
      response = await sendWithToken()
      if (!response) continue
      if (!replayable) return response
      status = response.status
      challenge = response.headers.get('www-authenticate') ?? ''
    }
    if (status === 401 && isInvalidToken(challenge) && !refreshed) {
      ctx.debug('fetch: 401 invalid_token; one forced refresh and one retry')
      await discard(response)
      refreshed = true
      forceRefresh = true
      continue
    }
    if (status === 401 && interactive && !loggedInAgain && reauthorizations < MAX_REAUTHORIZATIONS) {
      // The refreshed token is refused too (the server may now trust another authorization server): a new login, once.
      ctx.debug('fetch: 401 after the refresh; logging in again')
      await discard(response)
      loggedInAgain = true
      reauthorizations++
      await deps.login(challenge)
      continue
    }
    const current = status === 403 ? await readUsableSession(ctx, true).catch(() => session) : session
    const stepUp = status === 403 ? stepUpLogin(current, challenge) : undefined
    if (!stepUp) {
      if (response) return response
      continue // a refusal handed over that asks for nothing: the request is sent
    }
    await discard(response)
    if (!interactive) throw stepUpError(ctx, current, stepUp.step)
    // The same challenge again right after a login that asked for it: another login would not help.
    if (reauthorizations >= MAX_REAUTHORIZATIONS || lastStepUp === challenge) {
      const tried = `still asked after ${reauthorizations} re-authorization${reauthorizations === 1 ? '' : 's'} for this request`
      throw stepUpError(ctx, current, stepUp.step, tried)
    }
    ctx.debug(`fetch: 403 ${stepUp.step.kind}; re-authorizing (${reauthorizations + 1} of at most ${MAX_REAUTHORIZATIONS})`)
    reauthorizations++
    lastStepUp = challenge
    await deps.login(challenge)
  }

  /** The request with a token; undefined when a login was needed and done instead (interactive). */
  async function sendWithToken(): Promise<Response | undefined> {
    let token: AccessToken
    try {
      token = await deps.token({ forceRefresh, signal: request.signal ?? undefined })
    } catch (error) {
      if (!interactive || !(error instanceof LoginRequiredError) || reauthorizations >= MAX_REAUTHORIZATIONS) throw error
      ctx.debug(`fetch: ${error.reason}; logging in again`)
      reauthorizations++
      await deps.login(undefined)
      return undefined
    }
    forceRefresh = false
    return send(fetchImpl, url, method, request, token, signal)
  }
}

async function send(fetchImpl: typeof fetch, url: URL, method: string, request: RequestInit, token: AccessToken, signal: AbortSignal | undefined | null): Promise<Response> {
  const dpop = token.token_type.toLowerCase() === 'dpop' && token.proof ? token.proof : undefined
  const headers = new Headers(request.headers)
  headers.set('authorization', `${dpop ? 'DPoP' : 'Bearer'} ${token.access_token}`)
  const init: RequestInit & { duplex?: 'half' } = { ...request, method, headers, redirect: 'manual', signal }
  if (request.body instanceof ReadableStream) init.duplex = 'half'
  if (!dpop) return fetchImpl(url, init)
  headers.set('dpop', await dpop({ method, url }))
  const response = await fetchImpl(url, init)
  const nonce = response.headers.get('dpop-nonce')
  if (response.status !== 401 || !nonce || !isUseDpopNonce(response.headers.get('www-authenticate') ?? '') || request.body instanceof ReadableStream) return response
  // RFC 9449 §9: the resource's nonce, once per request (the proof remembers it for the origin).
  await discard(response)
  headers.set('dpop', await dpop({ method, url, nonce }))
  return fetchImpl(url, init)
}

function requestUrl(input: string | URL): URL {
  if (typeof input !== 'string' && !(input instanceof URL)) throw new UsageError('fetch() takes a URL or a string, not a Request (its headers would be sent as they are)')
  const url = URL.parse(input)
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new UsageError(`fetch() needs an http(s) URL, not ${JSON.stringify(String(input))}`)
  return url
}

/** The token goes only to the session's origins and those listed; anything else is refused before sending. */
export function assertOrigin(session: Session, allowOrigins: readonly string[], url: URL): void {
  const allowed = sessionOrigins(session, allowOrigins)
  if (!allowed.includes(url.origin)) throw new OriginNotAllowedError(url.origin, allowed)
}

async function discard(response: Response | undefined): Promise<void> {
  await response?.body?.cancel().catch(() => {})
}
