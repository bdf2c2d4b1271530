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
