/**
 * Pure classification of a request that reached the loopback server: is it the authorization
 * response we are waiting for, and if not, what do we answer? No I/O.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export type RequestVerdict = 'callback' | 'bad-host' | 'not-found' | 'method-not-allowed' | 'bad-state' | 'bad-request'

export interface RequestLike {
  method?: string
  url?: string
  /** The Host header, as received. */
  host?: string
}

export interface ExpectedCallback {
  /** The redirect path, e.g. `/callback`. Compared exactly with the request's path. */
  path: string
  port: number
  state: string
}

/**
 * Checks, in this order:
 * 1. Host is `127.0.0.1:<port>`, `localhost:<port>` or `[::1]:<port>` (case-insensitive; the port may
 *    be left out only when it is 80) — else 'bad-host' (DNS rebinding);
 * 2. the request target is origin-form and its path is exactly `expected.path` — else 'not-found';
 * 3. the method is GET — else 'method-not-allowed' (HEAD included);
 * 4. `state` appears exactly once and equals `expected.state` (compared in constant time) — else
 *    'bad-state', whether the query carries `code` or `error`;
 * 5. exactly one non-empty `code` or `error` — else 'bad-request' (RFC 6749 §3.1: no parameter twice);
 * then 'callback'.
 */
export function classifyRequest(req: RequestLike, expected: ExpectedCallback): RequestVerdict {
  if (!isLoopbackHost(req.host, expected.port)) return 'bad-host'

  const target = parseTarget(req.url)
  if (target === undefined || target.pathname !== expected.path) return 'not-found'

  if (req.method !== 'GET') return 'method-not-allowed'

  const query = target.searchParams
  const states = query.getAll('state')
  if (states.length !== 1 || !constantTimeEqual(states[0], expected.state)) return 'bad-state'

  const codes = query.getAll('code')
  const errors = query.getAll('error')
  if (codes.length > 1 || errors.length > 1) return 'bad-request'
  const hasCode = codes.length === 1 && codes[0] !== ''
  const hasError = errors.length === 1 && errors[0] !== ''
  if (!hasCode && !hasError) return 'bad-request'

  return 'callback'
}

function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false
  const value = host.toLowerCase()
  for (const name of ['127.0.0.1', 'localhost', '[::1]']) {
    if (value === `${name}:${port}`) return true
    if (port === 80 && value === name) return true
  }
  return false
}

/** Origin-form targets only (`/path?query`); absolute-form, authority-form and `*` are not ours. */
function parseTarget(url: string | undefined): URL | undefined {
  if (url === undefined || !url.startsWith('/')) return undefined
  try {
    // A fixed base keeps `//other-host/...` a path: everything after the authority we wrote is path.
    return new URL(`http://loopback.invalid${url}`)
  } catch {
    return undefined
  }
}

function constantTimeEqual(actual: string, expected: string): boolean {
  // Hashing first gives equal lengths, so neither the content nor the length leaks through timing.
  const a = createHash('sha256').update(actual, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  return timingSafeEqual(a, b) && expected !== ''
}

/** What became of an address the user pasted instead of the browser's redirect (or gave to finish a pending login). */
export type PastedVerdict = 'callback' | 'not-an-address' | 'bare-code' | 'not-the-redirect' | 'bad-state' | 'bad-request'

export interface ExpectedRedirect {
  /** The redirect_uri of the attempt, e.g. `http://127.0.0.1:4242/callback`. */
  redirectUri: string
  state: string
}

/**
 * The address the browser ended on, pasted (a browser on another machine cannot reach this
 * machine's loopback, but its address bar holds the authorization response): checked exactly as
 * the redirect is, by classifyRequest(), against the attempt's redirect URI. A bare code (no URL,
 * or no `state`) is refused: without the state nothing ties it to this attempt.
 */
export function classifyPastedAddress(text: string, expected: ExpectedRedirect): PastedVerdict {
  const pasted = text.trim()
  const url = URL.parse(pasted)
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return /^[\w.~+/=-]+$/.test(pasted) ? 'bare-code' : 'not-an-address'
  const redirect = new URL(expected.redirectUri)
  if (url.protocol !== redirect.protocol) return 'not-the-redirect'
  if (!url.searchParams.has('state') && (url.searchParams.has('code') || url.searchParams.has('error'))) return 'bare-code'
  const verdict = classifyRequest({ method: 'GET', url: `${url.pathname}${url.search}`, host: url.host }, { path: redirect.pathname, port: Number(redirect.port || 80), state: expected.state })
  return verdict === 'bad-host' || verdict === 'not-found' || verdict === 'method-not-allowed' ? 'not-the-redirect' : verdict
}

/** The callback URL handed to the code exchange: the attempt's redirect URI with the answer's query. */
export function callbackUrlFor(redirectUri: string, search: string): URL {
  const url = new URL(redirectUri)
  url.search = search
  return url
}

/** Why a pasted address was not taken, in words for the user (the login keeps waiting). */
export function pastedAddressProblem(verdict: Exclude<PastedVerdict, 'callback'>, redirectUri: string): string {
  switch (verdict) {
    case 'bare-code':
      return "that is only a code: paste the whole address from the browser's address bar (with its state)"
    case 'not-an-address':
      return "that is not an address: paste the whole address from the browser's address bar"
    case 'not-the-redirect':
      return `that address is not this login's redirect (${redirectUri}?…)`
    case 'bad-state':
      return 'that address belongs to another login attempt (its state does not match)'
    case 'bad-request':
      return 'that address carries neither a code nor an error'
  }
}
