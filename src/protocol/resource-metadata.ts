/**
 * Where to log in for a protected resource, from its URL alone: RFC 9728 protected resource
 * metadata, found the way the MCP authorization specification says.
 */
import { ErrorCode, ProviderError } from '../errors.ts'
import { isLoopbackHttp } from './url.ts'

export interface ProtectedResource {
  /** The metadata's `resource`, exactly as published: what goes in the `resource` parameter (RFC 8707). */
  resource: string
  authorizationServers: string[]
  /** The 401's `scope`, else the metadata's `scopes_supported`, space-separated. */
  scope?: string
  /** Where the metadata was found. */
  metadataUrl: string
}

/** Provider answers are capped (see provider-fetch.ts); this is about JSON we parse ourselves. */
const MAX_METADATA_BYTES = 1024 * 1024

/**
 * 1. an unauthenticated GET; when that is not a 401 with `resource_metadata`, a JSON-RPC
 *    `initialize` POST (Streamable HTTP MCP servers answer only POSTs);
 * 2. else `/.well-known/oauth-protected-resource` with the URL's path appended (RFC 9728 §3.1),
 * 3. else at the root.
 */
export async function discoverProtectedResource(resourceUrl: string, fetchImpl: typeof fetch): Promise<ProtectedResource> {
  const url = new URL(resourceUrl)
  assertAllowedUrl(url, 'the resource URL')
  const get = await challengeOf(url, fetchImpl, 'GET')
  const challenge = get?.resourceMetadata ? get : ((await challengeOf(url, fetchImpl, 'POST')) ?? get)
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
      return { resource: found.resource, authorizationServers: found.authorizationServers, scope, metadataUrl: candidate.href }
    }
  }
  throw new ProviderError(
    ErrorCode.PROVIDER_ERROR,
    `${url.href} publishes no OAuth protected resource metadata (RFC 9728; tried ${candidates.map((c) => c.href).join(', ')}): give the issuer of its authorization server`,
    { error: 'no_resource_metadata' },
  )
}

interface Challenge {
  resourceMetadata?: string
  scope?: string
}

async function challengeOf(url: URL, fetchImpl: typeof fetch, method: 'GET' | 'POST'): Promise<Challenge | undefined> {
  const init: RequestInit = method === 'GET'
    ? { method, headers: { accept: 'application/json, text/event-stream' }, redirect: 'manual' }
    : {
        method,
        redirect: 'manual',
        headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cli-login', version: '0' } },
        }),
      }
  let response: Response
  try {
    response = await fetchImpl(url.href, init)
  } catch (error) {
    throw unreachable(url, error)
  }
  await response.body?.cancel().catch(() => {})
  if (response.status !== 401) return undefined
  return parseBearerChallenge(response.headers.get('www-authenticate') ?? '')
}

async function fetchMetadata(candidate: URL, resourceUrl: URL, fetchImpl: typeof fetch): Promise<{ resource: string; authorizationServers: string[]; scopes: string[] } | undefined> {
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
  return { resource, authorizationServers: servers, scopes }
}

/**
 * The `Bearer` challenge's parameters (RFC 6750 §3, RFC 9728 §5.1) from a WWW-Authenticate header,
 * which may hold several challenges, quoted strings with escapes, and token values.
 */
export function parseBearerChallenge(header: string): Challenge {
  const params = new Map<string, string>()
  const pattern = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+)))?/g
  let inBearer = false
  for (let match = pattern.exec(header); match; match = pattern.exec(header)) {
    const [, name, quoted, token] = match
    if (quoted === undefined && token === undefined) {
      // A name without a value starts a challenge (its auth-scheme), unless it is token68.
      inBearer = name.toLowerCase() === 'bearer'
      continue
    }
    if (inBearer && !params.has(name.toLowerCase())) params.set(name.toLowerCase(), quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token)
  }
  const scope = params.get('scope')?.trim()
  return { resourceMetadata: params.get('resource_metadata') || undefined, scope: scope || undefined }
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
  const code = (error as { cause?: { code?: string } }).cause?.code
  return new ProviderError(ErrorCode.PROVIDER_UNREACHABLE, `could not reach ${url.origin} (${code ?? 'network error'}): check the resource URL, your network and proxy settings`, { cause: error })
}
