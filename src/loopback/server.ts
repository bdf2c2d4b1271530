/**
 * The loopback redirect server (RFC 8252 §7.3): listens on 127.0.0.1 only, waits for the one request
 * that is the authorization response, holds that response open until the caller has stored the
 * tokens, answers everything else and keeps waiting.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { UsageError } from '../errors.ts'
import { callbackUrlFor, classifyPastedAddress, classifyRequest, type PastedVerdict, type RequestVerdict } from './guard.ts'
import { defaultPages, PAGE_CONTENT_SECURITY_POLICY, type FailurePageInfo, type LoginPages } from './pages.ts'
import { listenAllOnFirstFreePort } from './ports.ts'

/**
 * The server binds loopback addresses only: 127.0.0.1, and for a `localhost` redirect also ::1 on
 * the same port, since a browser may resolve localhost to ::1 first and another program must not
 * be able to take that address and receive the redirect (RFC 8252 §8.3).
 */
const IPV4_LOOPBACK = '127.0.0.1'
const IPV6_LOOPBACK = '::1'

export interface CallbackServerOptions {
  /** Host written in redirect_uri; the server binds 127.0.0.1 (and ::1 for localhost), never all interfaces. */
  redirectHost: '127.0.0.1' | 'localhost'
  port: number
  portAttempts: number
  /** Redirect path, e.g. `/callback`. */
  path: string
  state: string
  /** Default defaultPages; its failure page also answers 400/404/405. */
  pages?: LoginPages
  /** The embedding tool's name on the pages. */
  displayName: string
}

export interface CallbackServer {
  readonly port: number
  /** `http://${redirectHost}:${port}${path}` */
  readonly redirectUri: string
  /**
   * Resolves with the full URL of the first request that classifyRequest() calls 'callback' (query
   * intact, built on redirectUri), rejects with signal.reason when signal aborts first. Every other
   * request is answered (400 bad-host/bad-state/bad-request, 404, 405) and ignored: the wait goes on.
   */
  waitForCallback(signal?: AbortSignal): Promise<URL>
  /**
   * The address the browser ended on, pasted by the user: checked like the redirect (guard.ts);
   * when it is this attempt's answer and none has come yet, waitForCallback() resolves with it,
   * just as with the redirect (whichever comes first wins; a later redirect is told the login is
   * answered). Any other verdict changes nothing: the wait goes on.
   */
  submitPasted(text: string): PastedVerdict
  /**
   * Answers the held callback request (the response is held open until this is called: the success
   * page must only go out after tokens are stored), then closes the server. An answer that was
   * pasted has no browser waiting: the server just closes.
   */
  respond(status: number, html: string): Promise<void>
  /**
   * Idempotent. Stops listening and destroys every socket at once (idle keep-alive browser
   * connections included), so the port is free immediately and nothing keeps the process alive.
   */
  close(): void
}

type PageText = Omit<FailurePageInfo, 'displayName'>

const REJECTIONS: Record<Exclude<RequestVerdict, 'callback'>, { status: number; page: PageText }> = {
  'bad-host': {
    status: 400,
    page: {
      error: 'bad_host',
      errorDescription: 'This request was not addressed to the login server on this computer, so it was ignored.',
    },
  },
  'not-found': {
    status: 404,
    page: {
      error: 'not_found',
      errorDescription: 'There is nothing at this address. This server only receives the answer of your identity provider.',
    },
  },
  'method-not-allowed': {
    status: 405,
    page: { error: 'method_not_allowed', errorDescription: 'Only GET is accepted at this address.' },
  },
  'bad-state': {
    status: 400,
    page: {
      error: 'state_mismatch',
      errorDescription:
        'This answer does not belong to the login in progress, so it was ignored. If you started a new login, finish it in the window it opened.',
    },
  },
  'bad-request': {
    status: 400,
    page: {
      error: 'invalid_request',
      errorDescription: 'The answer of the identity provider carries neither a code nor an error.',
    },
  },
}

const ALREADY_ANSWERED: PageText = {
  error: 'already_answered',
  errorDescription: 'This login has already received its answer. Return to the terminal.',
}

interface HeldCallback {
  url: URL
  /** Undefined for a pasted answer: no browser is waiting for a page. */
  res: ServerResponse | undefined
}

interface Waiter {
  resolve(url: URL): void
  reject(reason: unknown): void
}

export async function startCallbackServer(options: CallbackServerOptions): Promise<CallbackServer> {
  const { redirectHost, path, state, displayName } = options
  if (redirectHost !== '127.0.0.1' && redirectHost !== 'localhost') {
    throw UsageError.forOption('redirectHost', `must be 127.0.0.1 or localhost, not ${String(redirectHost)}`)
  }
  if (!path.startsWith('/') || path.startsWith('//') || /[?#\s]/.test(path)) {
    throw UsageError.forOption('redirectPath', `must start with "/" and hold no query, fragment or space: ${path}`)
  }
  const pages = options.pages ?? defaultPages

  const sockets = new Set<Socket>()
  const waiters = new Set<Waiter>()
  let held: HeldCallback | undefined
  let answered = false
  let closed = false
  let port = 0
  let redirectUri = ''

  const servers = [IPV4_LOOPBACK, ...(redirectHost === 'localhost' ? [IPV6_LOOPBACK] : [])].map((host) => {
    const server = createServer((req, res) => handle(req, res))
    server.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    return { server, host, optional: host === IPV6_LOOPBACK }
  })

  function handle(req: IncomingMessage, res: ServerResponse): void {
    // Only GET is ever served: whatever body comes is read and dropped.
    req.resume()
    const verdict = classifyRequest({ method: req.method, url: req.url, host: req.headers.host }, { path, port, state })
    if (verdict !== 'callback') {
      const { status, page } = REJECTIONS[verdict]
      send(res, status, pages.failure({ displayName, ...page }), verdict === 'method-not-allowed' ? { Allow: 'GET' } : {})
      return
    }
    if (held !== undefined || closed) {
      send(res, 400, pages.failure({ displayName, ...ALREADY_ANSWERED }))
      return
    }
    accept(callbackUrlFor(redirectUri, new URL(`http://loopback.invalid${req.url ?? ''}`).search), res)
  }

  function accept(url: URL, res: ServerResponse | undefined): void {
    held = { url, res }
    for (const waiter of waiters) waiter.resolve(url)
    waiters.clear()
  }

  function close(): void {
    if (closed) return
    closed = true
    for (const { server } of servers) {
      server.close()
      server.closeAllConnections()
      server.unref()
    }
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (waiters.size > 0) {
      const reason = new Error('the callback server was closed before the browser answered')
      for (const waiter of waiters) waiter.reject(reason)
      waiters.clear()
    }
  }

  // After listening, errors would only come from the OS; they must not crash the host process.
  port = await listenAllOnFirstFreePort(servers, options.port, options.portAttempts)
  for (const { server } of servers) server.on('error', () => {})
  redirectUri = `http://${redirectHost}:${port}${path}`

  return {
    port,
    redirectUri,

    waitForCallback(signal?: AbortSignal): Promise<URL> {
      if (signal?.aborted) return Promise.reject(signal.reason)
      if (held !== undefined) return Promise.resolve(held.url)
      if (closed) return Promise.reject(new Error('the callback server is closed'))
      return new Promise<URL>((resolve, reject) => {
        const onAbort = (): void => {
          waiters.delete(waiter)
          reject(signal?.reason)
        }
        const waiter: Waiter = {
          resolve(url) {
            signal?.removeEventListener('abort', onAbort)
            resolve(url)
          },
          reject(reason) {
            signal?.removeEventListener('abort', onAbort)
            reject(reason)
          },
        }
        waiters.add(waiter)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },

    submitPasted(text: string): PastedVerdict {
      const verdict = classifyPastedAddress(text, { redirectUri, state })
      if (verdict === 'callback' && held === undefined && !closed) accept(callbackUrlFor(redirectUri, new URL(text.trim()).search), undefined)
      return verdict
    },

    async respond(status: number, html: string): Promise<void> {
      if (held === undefined) {
        close()
        throw new Error('no callback request to respond to')
      }
      if (answered) return
      answered = true
      try {
        if (held.res) await sendAndWait(held.res, status, html)
      } finally {
        close()
      }
    },

    close,
  }
}

function headers(html: string, extra: Record<string, string>): Record<string, string | number> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html, 'utf8'),
    'Content-Security-Policy': PAGE_CONTENT_SECURITY_POLICY,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
    ...extra,
  }
}

function send(res: ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, headers(html, extra))
  res.end(html)
}

/** Longest wait for the answered callback's socket to flush and close before close() cuts it. */
const FLUSH_WAIT_MS = 2000

/**
 * Resolves once the response has been written out and its connection closed (Connection: close
 * makes Node end it right after the response), or the browser has gone away, or FLUSH_WAIT_MS.
 */
function sendAndWait(res: ServerResponse, status: number, html: string): Promise<void> {
  const socket = res.socket
  if (res.destroyed || res.writableEnded || socket === null || socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(done, FLUSH_WAIT_MS)
    timer.unref()
    function done(): void {
      clearTimeout(timer)
      socket?.off('close', done)
      resolve()
    }
    socket.once('close', done)
    try {
      send(res, status, html)
    } catch {
      done()
    }
  })
}
