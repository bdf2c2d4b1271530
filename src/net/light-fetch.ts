/**
 * Headers and Response for the CLI process: the answers of the CLI's own fetch (provider-fetch.ts,
 * on node:http) are small, whole JSON bodies, and these classes hold exactly that. Node's own
 * classes live in its bundled undici, which the first use of the global `Headers` or `Response`
 * loads: ~12 MiB of a login's peak memory (`node -e "new Headers()"` 52 MiB against `node -e 0`
 * 40 MiB). openid-client builds a `Headers` for every request and checks answers against `Response`
 * (by `Symbol.toStringTag` too), so the CLI installs these as the globals before anything uses them
 * (cli/main.ts); the library leaves the globals alone.
 *
 * What they do not do: stream (a body is held whole, `body` is null, `body?.cancel()` a no-op), tell
 * of redirects (provider-fetch follows none: `redirected` is false, `url` empty), or take Blob,
 * FormData or stream bodies.
 */
type HeadersInitLike = Iterable<readonly [string, string]> | Record<string, string | readonly string[] | undefined> | undefined | null

export class LightHeaders {
  readonly #values = new Map<string, string>()

  constructor(init?: HeadersInitLike) {
    if (!init) return
    if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [name, value] of init as Iterable<readonly [string, string]>) this.append(name, value)
      return
    }
    for (const [name, value] of Object.entries(init as Record<string, string | readonly string[] | undefined>)) {
      if (Array.isArray(value)) for (const v of value) this.append(name, v)
      else if (value !== undefined) this.append(name, value as string)
    }
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase()
    const previous = this.#values.get(key)
    this.#values.set(key, previous === undefined ? String(value) : `${previous}, ${value}`)
  }

  set(name: string, value: string): void {
    this.#values.set(name.toLowerCase(), String(value))
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase())
  }

  delete(name: string): void {
    this.#values.delete(name.toLowerCase())
  }

  getSetCookie(): string[] {
    const cookie = this.get('set-cookie')
    return cookie === null ? [] : [cookie]
  }

  forEach(callback: (value: string, name: string, headers: LightHeaders) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this)
  }

  /** Sorted by name, as the Fetch standard's Headers iterate. */
  entries(): IterableIterator<[string, string]> {
    return [...this.#values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))[Symbol.iterator]()
  }

  keys(): IterableIterator<string> {
    return [...this.entries()].map(([name]) => name)[Symbol.iterator]()
  }

  values(): IterableIterator<string> {
    return [...this.entries()].map(([, value]) => value)[Symbol.iterator]()
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries()
  }

  get [Symbol.toStringTag](): string {
    return 'Headers'
  }
}

type BodyLike = string | Uint8Array | ArrayBuffer | URLSearchParams | null | undefined

export class LightResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: LightHeaders
  readonly url = ''
  readonly redirected = false
  readonly type = 'default'
  readonly #body: Buffer | null
  #used = false

  constructor(body?: BodyLike, init: { status?: number; statusText?: string; headers?: HeadersInitLike } = {}) {
    this.status = init.status ?? 200
    this.statusText = init.statusText ?? ''
    this.headers = new LightHeaders(init.headers)
    this.#body = toBuffer(body)
    if (typeof body === 'string' && !this.headers.has('content-type')) this.headers.set('content-type', 'text/plain;charset=UTF-8')
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300
  }

  get bodyUsed(): boolean {
    return this.#used
  }

  /** No stream: the body was read whole (`body?.cancel()` is a no-op). */
  get body(): null {
    return null
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#consume()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(this.#consume())
  }

  async text(): Promise<string> {
    return this.#consume().toString('utf8')
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }

  clone(): LightResponse {
    if (this.#used) throw new TypeError('Response.clone: the body has already been read')
    return new LightResponse(this.#body, { status: this.status, statusText: this.statusText, headers: this.headers })
  }

  #consume(): Buffer {
    if (this.#used) throw new TypeError('the body has already been read')
    this.#used = true
    return this.#body ?? Buffer.alloc(0)
  }

  get [Symbol.toStringTag](): string {
    return 'Response'
  }
}

function toBuffer(body: BodyLike): Buffer | null {
  if (body === null || body === undefined) return null
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8')
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  throw new TypeError('a response body must be a string, bytes or URLSearchParams here')
}

/** The CLI's process only: see the top of this file. */
export function installLightFetchClasses(): void {
  for (const [name, value] of [['Headers', LightHeaders], ['Response', LightResponse]] as const) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false })
  }
}
