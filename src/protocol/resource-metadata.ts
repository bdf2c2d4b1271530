/**
 * Where to log in for a protected resource, from its URL alone: RFC 9728 protected resource
 * metadata, found the way the MCP authorization specification says.
 */
import { causeChain, ErrorCode, ProviderError } from '../errors.ts'
import { isLoopbackHttp } from './url.ts'
import { challengeOf, parseChallenges } from '../net/www-authenticate.ts'

export interface ProtectedResource {
  /** The metadata's `resource`, exactly as published: what goes in the `resource` parameter (RFC 8707). */
  resource: string
  authorizationServers: string[]
  /** The 401's `scope`, else the metadata's `scopes_supported`, space-separated. */
  scope?: string
  /** Where the metadata was found. */
  metadataUrl: string
  /** The resource wants DPoP-bound tokens (RFC 9449 §5.2 `dpop_bound_access_tokens_required`, or its 401 offered only DPoP). */
  dpopRequired?: boolean
}

/** A resource without protected resource metadata (the 2025-03-26 revision of MCP, or no OAuth at all). */
export interface NoResourceMetadata {
  /** The URLs tried, for the message when nothing else works either. */
  tried: string[]
  /** The 401's `scope`, when it named one. */
  scope?: string
}

/** Provider answers are capped (see provider-fetch.ts); this is about JSON we parse ourselves. */
const MAX_METADATA_BYTES = 1024 * 1024

/** The revision whose `server/discover` is tried first, and the one `initialize` speaks. */
const MCP_REVISION = '2026-07-28'
const MCP_STATEFUL_REVISION = '2025-11-25'
/** JSON-RPC errors of a 400 to `server/discover` that mean "an older server: try initialize". */
const HEADER_MISMATCH = -32020
const METHOD_NOT_FOUND = -32601

/**
 * The MCP authorization spec's order (2026-07-28, and the revisions before it):
 * 1. an unauthenticated GET: a 401 with `resource_metadata` is used;
 * 2. else a POST of the 2026-07-28 `server/discover`, with its `MCP-Protocol-Version` and
 *    `Mcp-Method` headers;
 * 3. else a POST of the older JSON-RPC `initialize` — after a 400 from (2) only when its body says
 *    HeaderMismatch or an unknown method (another 400 is the server's answer to (2));
 * 4. else `/.well-known/oauth-protected-resource` with the URL's path appended (RFC 9728 §3.1),
 *    then at the root.
 * Nothing found: NoResourceMetadata (the caller falls back to the 2025-03-26 revision).
 */
export async function discoverProtectedResource(resourceUrl: string, fetchImpl: typeof fetch, clientName = 'mcp-client'): Promise<ProtectedResource | NoResourceMetadata> {
  const url = new URL(resourceUrl)
  assertAllowedUrl(url, 'the resource URL')
  const challenge = await findChallenge(url, fetchImpl, clientName)
  const candidates: URL[] = []
  if (challenge?.resourceMetadata) {
    const fromHeader = URL.parse(challenge.resourceMetadata, url)
    if (fromHeader) candidates.push(fromHeader)
  }
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  if (path) candidates.push(new URL(`/.well-known/oauth-protected-resource${path}`, url))
  candidates.push(new URL('/.well-known/oauth-protected-resource', url))
  for (const candidate of candidates) {
    const found = await fetchMetadata(candidate, url, fetchImpl)
    if (found) {
      const scope = challenge?.scope ?? (found.scopes.length > 0 ? found.scopes.join(' ') : undefined)
      const dpopRequired = found.dpopRequired || challenge?.dpopOnly
      return { resource: found.resource, authorizationServers: found.authorizationServers, scope, metadataUrl: candidate.href, ...(dpopRequired ? { dpopRequired: true } : {}) }
    }
  }
  return { tried: candidates.map((c) => c.href), scope: challenge?.scope }
}

/** Steps 1–3: the first 401 that names the metadata, else the first 401 (for its scope). */
async function findChallenge(url: URL, fetchImpl: typeof fetch, clientName: string): Promise<Challenge | undefined> {
  const get = await probe(url, fetchImpl, { method: 'GET', headers: { accept: 'application/json, text/event-stream' } })
  if (get.challenge?.resourceMetadata) return get.challenge
  const discover = await probe(url, fetchImpl, jsonRpcPost('server/discover', MCP_REVISION, clientName))
  if (discover.challenge?.resourceMetadata) return discover.challenge
  const earlier = get.challenge ?? discover.challenge
  if (discover.status === 400 && !discover.olderServer) return earlier
  const initialize = await probe(url, fetchImpl, jsonRpcPost('initialize', MCP_STATEFUL_REVISION, clientName))
  return initialize.challenge?.resourceMetadata ? initialize.challenge : (earlier ?? initialize.challenge)
}

function jsonRpcPost(method: 'server/discover' | 'initialize', revision: string, clientName: string): RequestInit {
  const clientInfo = { name: clientName, version: '1.0.0' }
  const headers: Record<string, string> = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }
  if (method === 'server/discover') {
    headers['mcp-protocol-version'] = revision
    headers['mcp-method'] = method
  }
  const params =
    method === 'server/discover'
      ? { _meta: { 'io.modelcontextprotocol/protocolVersion': revision, 'io.modelcontextprotocol/clientInfo': clientInfo, 'io.modelcontextprotocol/clientCapabilities': {} } }
      : { protocolVersion: revision, capabilities: {}, clientInfo }
  return { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) }
}

interface Challenge {
  resourceMetadata?: string
  scope?: string
  /** The 401 offered the DPoP scheme and no other. */
  dpopOnly?: boolean
}

interface ProbeAnswer {
  status: number
  /** A 401's Bearer challenge. */
  challenge?: Challenge
  /** A 400 whose JSON-RPC error says the server predates the request (HeaderMismatch, unknown method). */
  olderServer?: boolean
}

async function probe(url: URL, fetchImpl: typeof fetch, init: RequestInit): Promise<ProbeAnswer> {
  let response: Response
  try {
    response = await fetchImpl(url.href, { ...init, redirect: 'manual' })
  } catch (error) {
    throw unreachable(url, error)
  }
  if (response.status === 401) {
    await response.body?.cancel().catch(() => {})
    const header = response.headers.get('www-authenticate') ?? ''
    const dpopOnly = offersOnlyDpop(header)
    return { status: 401, challenge: dpopOnly ? { ...parseBearerChallenge(header, 'dpop'), dpopOnly } : parseBearerChallenge(header) }
  }
  if (response.status !== 400) {
    await response.body?.cancel().catch(() => {})
    return { status: response.status }
  }
  const error = await jsonRpcError(response)
  const olderServer = error !== undefined && (error.code === HEADER_MISMATCH || error.code === METHOD_NOT_FOUND || /HeaderMismatch/i.test(error.message ?? ''))
  return { status: 400, olderServer }
}

async function jsonRpcError(response: Response): Promise<{ code?: unknown; message?: string } | undefined> {
  try {
    const text = await response.text()
    if (text.length > MAX_METADATA_BYTES) return undefined
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (typeof body?.error !== 'object' || body.error === null) return undefined
    return { code: body.error.code, message: typeof body.error.message === 'string' ? body.error.message : undefined }
  } catch {
    return undefined
  }
}

async function fetchMetadata(candidate: URL, resourceUrl: URL, fetchImpl: typeof fetch): Promise<{ resource: string; authorizationServers: string[]; scopes: string[]; dpopRequired: boolean } | undefined> {
  assertAllowedUrl(candidate, 'the protected resource metadata')
  let response: Response
  try {
    response = await fetchImpl(candidate.href, { headers: { accept: 'application/json' }, redirect: 'manual' })
  } catch (error) {
    throw unreachable(candidate, error)
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {})
    return undefined
  }
  const text = await response.text()
  let body: unknown
  try {
    if (text.length > MAX_METADATA_BYTES) throw new Error('too large')
    body = JSON.parse(text)
  } catch {
    throw invalid(candidate, 'is not a JSON document')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(candidate, 'is not a JSON object')
  const metadata = body as Record<string, unknown>
  const resource = typeof metadata.resource === 'string' && metadata.resource ? metadata.resource : resourceUrl.href
  // RFC 9728 §3.3, §7.3: metadata for another resource must not be used (tokens would go to it).
  if (!coversUrl(resource, resourceUrl)) throw invalid(candidate, `is for another resource (${JSON.stringify(resource)})`)
  const servers = metadata.authorization_servers
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s): s is string => typeof s === 'string')) {
    throw invalid(candidate, 'names no "authorization_servers"')
  }
  const scopes = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported.filter((s): s is string => typeof s === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) : []
  return { resource, authorizationServers: servers, scopes, dpopRequired: metadata.dpop_bound_access_tokens_required === true }
}

/** The `Bearer` (or another scheme's) challenge's parameters (RFC 6750 §3, RFC 9728 §5.1) from a WWW-Authenticate header. */
export function parseBearerChallenge(header: string, scheme = 'bearer'): Challenge {
  const params = challengeOf(header, [scheme])?.params ?? {}
  const scope = params.scope?.trim()
  return { resourceMetadata: params.resource_metadata || undefined, scope: scope || undefined }
}

/** The challenges' auth-schemes are DPoP alone (RFC 9449 §7.1): the resource takes no bearer token. */
export function offersOnlyDpop(header: string): boolean {
  const schemes = parseChallenges(header).map((challenge) => challenge.scheme)
  return schemes.length > 0 && schemes.every((scheme) => scheme === 'dpop')
}

/** The resource identifier is the URL given or one of its parents on the same origin. */
function coversUrl(resource: string, url: URL): boolean {
  const identifier = URL.parse(resource)
  if (!identifier || identifier.origin !== url.origin) return false
  const base = identifier.pathname.replace(/\/+$/, '')
  const path = url.pathname.replace(/\/+$/, '')
  return path === base || path.startsWith(`${base}/`)
}

/** Metadata comes over https, or http from a loopback host only (as every provider request). */
function assertAllowedUrl(url: URL, what: string): void {
  if (url.protocol === 'https:' || isLoopbackHttp(url)) return
  throw new ProviderError(ErrorCode.PROVIDER_ERROR, `${what} must use https (plain http only on 127.0.0.1 or localhost): ${url.href}`, { error: 'insecure_url' })
}

function invalid(url: URL, problem: string): ProviderError {
  return new ProviderError(ErrorCode.PROVIDER_ERROR, `the protected resource metadata at ${url.href} ${problem}`, { error: 'invalid_resource_metadata' })
}

function unreachable(url: URL, error: unknown): ProviderError {
  const code = causeChain(error).map((e) => (e as { code?: unknown }).code).find((c): c is string => typeof c === 'string')
  return new ProviderError(ErrorCode.PROVIDER_UNREACHABLE, `could not reach ${url.origin} (${code ?? 'network error'}): check the resource URL, your network and proxy settings`, { cause: error })
}
