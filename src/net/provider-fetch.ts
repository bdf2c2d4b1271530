import { patientTimeout } from './patient-timeout.ts'

/** HTTP_PROXY, HTTPS_PROXY and NO_PROXY, upper or lower case. */
export function proxySettings(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') }
}

/** How long one request may take: to connect (TCP and TLS), then for the whole answer. */
export interface RequestBounds {
  connectMs: number
  answerMs: number
}

export const DEFAULT_REQUEST_BOUNDS: RequestBounds = { connectMs: 30_000, answerMs: 30_000 }

/**
 * The fetch used for every request to the provider. It honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY
 * from the given environment — a provider on loopback included, unless NO_PROXY lists it. Without a
 * proxy it is a small fetch on node:http (below); with one, undici's fetch and proxy agent, loaded
 * only then. Certificates from NODE_EXTRA_CA_CERTS are trusted either way: Node adds them to its
 * default CA store at start-up.
 *
 * Each request is bounded: no connection within `bounds.connectMs`, or no whole answer within
 * `bounds.answerMs` after it, fails with a RequestTimeoutError (the library reports the provider
 * unreachable). Through a proxy the bound is both together, for the whole request.
 *
 * What it does not do, being made for small JSON exchanges with a provider: it follows no redirects
 * (a 3xx is returned as it is, whatever `redirect` asks); it buffers every answer whole, capped at
 * 1 MiB (no streaming: `body` is read at once); it sends string, form and byte bodies only.
 */
export function createProviderFetch(env: NodeJS.ProcessEnv, bounds: RequestBounds = DEFAULT_REQUEST_BOUNDS): typeof fetch {
  const { httpProxy, httpsProxy, noProxy } = proxySettings(env)
  if (!httpProxy && !httpsProxy) return (input, init) => nodeHttpFetch(input, init, bounds)
  return boundedFetch(cappedFetch(proxiedFetch(httpProxy, httpsProxy, noProxy)), bounds.connectMs + bounds.answerMs)
}

/** A request that took longer than its bound. `code` as Node's own network errors have one. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'
  constructor(url: URL, phase: 'connect' | 'answer', ms: number) {
    super(`${phase === 'connect' ? 'no connection to' : 'no answer from'} ${url.host} within ${ms / 1000} s`)
    this.name = 'RequestTimeoutError'
  }
}

/** Provider answers are capped: a hostile or broken provider cannot make us buffer without end. */
const MAX_ANSWER_BYTES = 1024 * 1024

export class AnswerTooLargeError extends Error {
  constructor(url: string) {
    super(`the provider's answer from ${new URL(url).origin} is larger than 1 MiB`)
    this.name = 'AnswerTooLargeError'
  }
}

function cappedFetch(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init)
    const url = urlOf(input)
    if (Number(response.headers.get('content-length')) > MAX_ANSWER_BYTES) {
      await response.body?.cancel().catch(() => {})
      throw new AnswerTooLargeError(url)
    }
    if (!response.body || [204, 205, 304].includes(response.status)) return response
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength
      if (size > MAX_ANSWER_BYTES) throw new AnswerTooLargeError(url)
      chunks.push(chunk)
    }
    return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers })
  }
}

function proxiedFetch(httpProxy: string | undefined, httpsProxy: string | undefined, noProxy: string | undefined): typeof fetch {
  let proxied: Promise<typeof fetch> | undefined
  return async (input, init) => {
    proxied ??= import('undici').then(({ EnvHttpProxyAgent, fetch: undiciFetch }) => {
      // Every setting is passed explicitly ('' = none): undici would otherwise read process.env,
      // which is not necessarily the environment this fetch was made for.
      const dispatcher = new EnvHttpProxyAgent({ httpProxy: httpProxy ?? '', httpsProxy: httpsProxy ?? httpProxy ?? '', noProxy: noProxy ?? '' })
      return ((url: Parameters<typeof fetch>[0], options?: RequestInit) => undiciFetch(url as string, { ...(options as object), dispatcher } as never)) as unknown as typeof fetch
    })
    return (await proxied)(input, { ...init, redirect: 'manual' })
  }
}

/** The whole request, answer read to its end (cappedFetch buffers it), within `ms`. */
function boundedFetch(inner: typeof fetch, ms: number): typeof fetch {
  return async (input, init) => {
    const deadline = new AbortController()
    const clear = patientTimeout(ms, () => deadline.abort(new RequestTimeoutError(new URL(urlOf(input)), 'answer', ms)))
    try {
      return await inner(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal })
    } finally {
      clear()
    }
  }
}

/**
 * fetch on node:http/node:https for the provider's small JSON requests. Node 20's global fetch
 * compiles undici's llhttp WebAssembly on the first connection and V8 then waits for that
 * background compilation when the process exits (~65 ms on a 2-core machine).
 */
async function nodeHttpFetch(input: Parameters<typeof fetch>[0], init: RequestInit = {}, bounds: RequestBounds): Promise<Response> {
  const url = new URL(urlOf(input))
  const headers: Record<string, string> = {}
  new Headers(init.headers).forEach((value, key) => (headers[key] = value))
  if (init.body instanceof URLSearchParams) headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
  const body = await requestBody(init.body)
  try {
    return await nodeHttpRequest(url, init, headers, body, bounds)
  } catch (error) {
    // A kept-alive connection the server closed as our request went out on it (its keep-alive
    // timeout fired: it read none of the request): sent again once on a new connection, as Node's
    // http documentation advises (`request.reusedSocket`).
    if (!(error instanceof StaleConnectionError)) throw error
    return nodeHttpRequest(url, init, headers, body, bounds).catch((again: unknown) => {
      throw again instanceof StaleConnectionError ? again.cause : again
    })
  }
}

/** ECONNRESET on a reused keep-alive socket before any answer. */
class StaleConnectionError extends Error {}

async function nodeHttpRequest(url: URL, init: RequestInit, headers: Record<string, string>, body: string | Buffer | undefined, bounds: RequestBounds): Promise<Response> {
  // Not import(): in the CommonJS bundle that starts Node's ESM loader, tens of milliseconds for one builtin.
  const { request } = url.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')
  return new Promise<Response>((resolvePromise, rejectPromise) => {
    let clearTimer = () => {}
    let settled = false
    const resolve = (response: Response) => {
      settled = true
      clearTimer()
      resolvePromise(response)
    }
    const reject = (error: unknown) => {
      settled = true
      clearTimer()
      rejectPromise(error)
    }
    /** From now on, the request has `ms` for its `phase` (a suspended process reads what came meanwhile first). */
    const bound = (phase: 'connect' | 'answer', ms: number) => {
      clearTimer()
      if (settled) return
      clearTimer = patientTimeout(ms, () => {
        const error = new RequestTimeoutError(url, phase, ms)
        reject(error)
        req.destroy(error)
      })
    }
    let answered = false
    const req = request(url, { method: init.method ?? 'GET', headers, signal: init.signal ?? undefined }, (res) => {
      answered = true
      const chunks: Buffer[] = []
      let size = 0
      if (Number(res.headers['content-length']) > MAX_ANSWER_BYTES) {
        req.destroy()
        reject(new AnswerTooLargeError(url.href))
        return
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_ANSWER_BYTES) {
          req.destroy()
          reject(new AnswerTooLargeError(url.href))
          return
        }
        chunks.push(chunk)
      })
      res.on('error', reject)
      res.on('end', () => {
        const responseHeaders = new Headers()
        for (const [key, value] of Object.entries(res.headers)) {
          if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v)
          else if (value !== undefined) responseHeaders.set(key, value)
        }
        const status = res.statusCode ?? 500
        const nullBody = status === 204 || status === 205 || status === 304
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: responseHeaders }))
      })
    })
    bound('connect', bounds.connectMs)
    req.on('socket', (socket) => {
      // A kept-alive socket is connected already; a new one counts as connected once TLS is set up too.
      const connected = () => bound('answer', bounds.answerMs)
      if (!socket.connecting) connected()
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected)
    })
    req.on('error', (error: NodeJS.ErrnoException) => {
      const stale = req.reusedSocket && error.code === 'ECONNRESET' && !answered
      reject(stale ? new StaleConnectionError('the kept-alive connection was closed', { cause: error }) : error)
    })
    req.end(body)
  })
}

/** Not `instanceof Request`: naming the global would load Node's fetch classes (light-fetch.ts). */
function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === 'object' && 'url' in input ? input.url : String(input)
}

/** openid-client sends form bodies (URLSearchParams); anything else fetch accepts is read whole. */
async function requestBody(body: RequestInit['body']): Promise<string | Buffer | undefined> {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || body instanceof URLSearchParams) return body.toString()
  return Buffer.from(await new Response(body).arrayBuffer())
}
