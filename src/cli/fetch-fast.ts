/**
 * `cli-login fetch <url>` with a fresh stored token, with none of the rest of the CLI and no
 * protocol code (bin/cli-login.cjs tries this first, as it does token-fast.ts for `token`): the
 * session file read synchronously, its origins checked, the request sent with node:http(s), the answer written as it arrives. Whatever needs more — a token to refresh, a keychain,
 * a DPoP-bound token, an origin the session was not made for, a usage problem, a 401 or a 403 step-up
 * challenge to act on — returns a handover and the full CLI does it (with standard input as read here).
 */
import { parseSpecArgs } from './option-parser.ts'
import { FETCH_SPEC } from './fetch-options.ts'
import { cliHome } from './cli-app.ts'
import type { IncomingMessage } from 'node:http'
import { cliRequest, unreachableLine, writeResponse, type CliRequest } from './fetch-request.ts'
import { writeAllSync } from './write-sync.ts'
import { inKeychainOnly, looksSafe, readSession, tokenView } from './token-fast.ts'
import { DEFAULTS } from '../options.ts'
import { readDefaultProfile } from '../session/home-config.ts'
import { sessionOrigins } from '../session/origins.ts'
import { profilePaths, profilesDir } from '../session/paths.ts'
import { decideToken } from '../session/token-decision.ts'
import { isInvalidToken, stepUpOf } from '../net/www-authenticate.ts'
import { terminalText } from '../terminal-text.ts'

/** The full CLI takes over (standard input, when read, goes with it). */
export interface FetchHandover {
  stdin?: Uint8Array
  /** The WWW-Authenticate the request was refused with (sent already): the full CLI acts on it first. */
  refusedWith?: string
}

/** true: answered (process.exitCode set); otherwise the handover for the full CLI. */
export async function tryCachedFetch(argv: string[], env: NodeJS.ProcessEnv): Promise<true | FetchHandover> {
  const handover: FetchHandover = {}
  let prepared
  try {
    prepared = await prepare(argv, env, handover)
  } catch {
    return handover
  }
  if (!prepared) return handover
  const { url, request, token, include } = prepared
  let response: IncomingMessage
  try {
    response = await send(url, request, token)
  } catch (error) {
    // Not sent (refused, DNS, TLS): the full CLI tries and says it in its words. Sent, then the
    // connection dropped: never sent again (a POST the server may have acted on), one line, exit 1.
    if (!(error instanceof DroppedAfterSending)) return handover
    writeAllSync(2, `${unreachableLine(url.origin, error.code)}\n`)
    process.exitCode = 1
    return true
  }
  // A refused token (refresh and retry) or a step-up challenge: the library's to act on.
  const challenge = [response.headers['www-authenticate'] ?? []].flat().join(', ')
  if ((response.statusCode === 401 && isInvalidToken(challenge)) || (response.statusCode === 403 && stepUpOf(challenge))) {
    response.destroy()
    return { ...handover, refusedWith: challenge }
  }
  const headers: Array<[string, string]> = []
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) headers.push([response.rawHeaders[i].toLowerCase(), response.rawHeaders[i + 1]])
  const cliResponse = { status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', headers, location: response.headers.location, body: response }
  process.exitCode = await writeResponse(cliResponse, terminalText(url.href), include, {
    out: (bytes) => writeAllSync(1, bytes),
    err: (line) => writeAllSync(2, `${line}\n`),
  })
  return true
}

async function prepare(argv: string[], env: NodeJS.ProcessEnv, handover: FetchHandover) {
  const { help, options, positional } = parseSpecArgs(FETCH_SPEC, argv, env)
  if (help || positional === undefined) return undefined
  const url = URL.parse(positional)
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined
  const home = cliHome(options.home, env, process.platform)
  const profile = options.profile ?? readDefaultProfile(home) ?? DEFAULTS.profile
  const paths = profilePaths(home, profile)
  if (!looksSafe([home, profilesDir(home), paths.dir], paths.session)) return undefined
  const session = readSession(paths.session)
  if (!session || inKeychainOnly(session) || session.tokenType.toLowerCase() === 'dpop') return undefined
  const storage = options.storage
  if (storage !== undefined && storage !== 'auto' && storage !== (session.storage ?? 'file')) return undefined
  if (session.storage === 'keychain' && options['keychain-access-token'] !== undefined) return undefined
  if (!sessionOrigins(session, options['allow-origin'] ?? []).includes(url.origin)) return undefined
  const decision = decideToken(tokenView(session), { nowS: Math.floor(Date.now() / 1000), minTtlS: DEFAULTS.minTtlS })
  if (decision.action !== 'use' || !/^[\x21-\x7e]+$/.test(decision.token.access_token)) return undefined
  const request = await cliRequest(options, async () => (handover.stdin = await readStdin()))
  return { url, request, token: decision.token.access_token, include: options.include ?? false }
}

/**
 * node:http(s), not the platform's `fetch`: loading fetch (undici) costs a process about as much as
 * Node's own start-up. Redirects are never followed (node:http does not).
 */
async function send(url: URL, request: CliRequest, token: string): Promise<IncomingMessage> {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase()
    const had = headers[key]
    headers[key] = had === undefined ? value : [had, value].flat()
  }
  headers.authorization = `Bearer ${token}`
  // The one module the URL needs, when it is needed (node:https brings TLS along).
  const send = url.protocol === 'https:' ? process.getBuiltinModule('node:https').request : process.getBuiltinModule('node:http').request
  return new Promise((resolve, reject) => {
    let sent = false
    const outgoing = send(url, { method: request.method, headers }, resolve)
    outgoing.on('finish', () => (sent = true))
    outgoing.on('error', (error: NodeJS.ErrnoException) => reject(sent ? new DroppedAfterSending(error.code ?? error.message) : error))
    outgoing.end(request.body === undefined ? undefined : Buffer.from(request.body))
  })
}

/** The whole request went out, then the connection failed before an answer. */
class DroppedAfterSending extends Error {
  constructor(readonly code: string) {
    super(`the connection failed after the request was sent (${code})`)
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array>) chunks.push(chunk)
  return Buffer.concat(chunks)
}
