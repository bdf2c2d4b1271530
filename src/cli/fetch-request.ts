/**
 * `cli-login fetch`: its flags as a request (curl's -X, -H, -d, -i), and the response written as
 * curl does (the body to stdout byte for byte, as it arrives), with the exit code of the contract:
 * 0 for 2xx, 4 for a 401 (the token is still refused: a login is needed), 1 for any other status.
 * Shared by the cached path (fetch-fast.ts) and the full command: node:fs only.
 */
import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.ts'
import { terminalText } from '../terminal-text.ts'

export interface FetchFlags {
  method?: string
  header?: string[]
  data?: string
  include?: boolean
}

export interface CliRequest {
  method: string
  headers: [string, string][]
  body?: Uint8Array
}

/** The request the flags describe; `stdin` is read only for `-d @-`. */
export async function cliRequest(flags: FetchFlags, stdin: () => Promise<Uint8Array>): Promise<CliRequest> {
  const headers = (flags.header ?? []).map(parseHeader)
  let body: Uint8Array | undefined
  if (flags.data !== undefined) {
    if (flags.data === '@-') body = await stdin()
    else if (flags.data.startsWith('@')) body = readDataFile(flags.data.slice(1))
    else body = Buffer.from(flags.data)
    // As curl does: -d is a form unless a Content-Type is given.
    if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', 'application/x-www-form-urlencoded'])
  }
  const method = flags.method?.toUpperCase() ?? (body === undefined ? 'GET' : 'POST')
  if (!/^[A-Z0-9!#$%&'*+.^_`|~-]+$/.test(method)) throw new UsageError(`--method must be an HTTP method such as GET or POST, not ${JSON.stringify(flags.method)}`)
  if ((method === 'GET' || method === 'HEAD') && body !== undefined) throw new UsageError(`--data cannot go with --method ${method} (a ${method} request has no body)`)
  return { method, headers, body }
}

/** The one line for a resource that could not be reached, or that dropped the request (both fetch paths). */
export function unreachableLine(origin: string, cause: string): string {
  return `cli-login: could not reach ${terminalText(origin)} (${terminalText(cause)})`
}

function parseHeader(line: string): [string, string] {
  const colon = line.indexOf(':')
  const name = colon > 0 ? line.slice(0, colon).trim() : ''
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new UsageError(`--header must be "<name>: <value>", not ${JSON.stringify(line)}`)
  if (name.toLowerCase() === 'authorization' || name.toLowerCase() === 'dpop') throw new UsageError(`--header ${name} is what cli-login sets (the session's token): leave it out`)
  const value = line.slice(colon + 1).trim()
  // RFC 9110 §5.5: no control characters but tab in a field value (a newline would start another header).
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) throw new UsageError(`--header ${name}: the value has a control character, ${terminalText(JSON.stringify(value))}`)
  return [name, value]
}

function readDataFile(path: string): Uint8Array {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new UsageError(`--data @${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

export interface ResponseSink {
  /** Bytes for stdout. */
  out(bytes: Uint8Array): void
  /** One line for stderr. */
  err(line: string): void
}

/** What is written of an answer: a platform Response, or node:http's (the cached path's). */
export interface CliResponse {
  status: number
  statusText: string
  headers: Array<[string, string]>
  location: string | undefined
  body: AsyncIterable<Uint8Array> | undefined
}

export function fromFetchResponse(response: Response): CliResponse {
  const headers: Array<[string, string]> = []
  response.headers.forEach((value, name) => headers.push([name, value]))
  return { status: response.status, statusText: response.statusText, headers, location: response.headers.get('location') ?? undefined, body: (response.body ?? undefined) as AsyncIterable<Uint8Array> | undefined }
}

/** Writes the response (with -i its status line and headers first) and returns the exit code. */
export async function writeResponse(response: CliResponse, url: string, include: boolean, sink: ResponseSink): Promise<number> {
  if (include) {
    const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`.trimEnd(), ...response.headers.map(([name, value]) => `${name}: ${value}`)]
    sink.out(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`))
  }
  if (response.body) for await (const chunk of response.body) sink.out(chunk)
  if (response.status >= 200 && response.status < 300) return 0
  const status = `HTTP ${response.status}${response.statusText ? ` ${terminalText(response.statusText)}` : ''}`
  if (response.status === 401) {
    sink.err(`cli-login: ${url} refused the session's token (${status}): run cli-login login`)
    return 4
  }
  const where = response.status >= 300 && response.status < 400 && response.location ? ` (a redirect to ${terminalText(response.location)}, not followed with the token)` : ''
  sink.err(`cli-login: ${url} answered ${status}${where}`)
  return 1
}
