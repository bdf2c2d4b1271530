/**
 * A small OAuth-protected API on 127.0.0.1 — an MCP server as far as logging in goes: RFC 9728
 * protected resource metadata, and 401 with `WWW-Authenticate: Bearer resource_metadata="…",
 * scope="…"` for a request without a valid token for it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose'
import type { TestProvider } from './provider/index.ts'

export interface ProtectedResourceOptions {
  /** The authorization server: its tokens for this resource are accepted (it is told to issue them). */
  authorizationServer: TestProvider
  /** Port on 127.0.0.1. Default 0 (any free port). */
  port?: number
  /** The API's path (default `/mcp`); its URL is the resource identifier. */
  path?: string
  /** The scopes it knows, space-separated (default `mcp:tools`): `scopes_supported` and the 401's `scope`. */
  scope?: string
  /**
   * Where clients learn of the metadata: `header` (default) — only from the 401's `resource_metadata`,
   * which names `/metadata/oauth-protected-resource<path>` (no well-known URL: a client that ignores
   * the header fails); `well-known` — only at `/.well-known/oauth-protected-resource<path>`, and the
   * 401 names no metadata.
   */
  metadataDiscovery?: 'header' | 'well-known'
  /**
   * `mcp`: like a Streamable HTTP MCP server, a GET is refused (405) and only a JSON-RPC POST (an
   * `initialize` request) gets the 401 — clients must try the POST. Default `rest`: any method gets it.
   */
  protocol?: 'rest' | 'mcp'
  /** The `resource` the metadata publishes (default: the URL itself, e.g. `http://127.0.0.1:<port>/mcp`). */
  resourceIdentifier?: string
  /**
   * DPoP (RFC 9449 §7). Whatever this says, a DPoP-bound token (`cnf.jkt`) is accepted only with
   * `Authorization: DPoP` and a valid proof of its key (htm, htu, ath, iat within 60 s, a jti not
   * seen before, the nonce when `dpopNonce`). `required`: bearer tokens are refused too, the
   * metadata says `dpop_bound_access_tokens_required`, and the 401 offers only the DPoP scheme.
   */
  dpop?: 'required'
  /** Require this server's nonce in proofs (`use_dpop_nonce` with a `DPoP-Nonce` header first). */
  dpopNonce?: boolean
}

export interface ProtectedResource {
  /** `http://127.0.0.1:<port><path>`: what a client is given. */
  readonly url: string
  /** The resource identifier the metadata publishes (what the client sends as `resource`). */
  readonly resource: string
  /** Where the metadata is served. */
  readonly metadataUrl: string
  readonly stats: ProtectedResourceStats
  /** A new DPoP nonce (the old one is refused from now on): the next proof gets `use_dpop_nonce`. */
  rotateDpopNonce(): void
  close(): Promise<void>
}

export interface ProtectedResourceStats {
  /** Every request, by `<METHOD> <path>`. */
  requests: Record<string, number>
  /** Requests that carried a valid token for this resource. */
  authorized: number
  /** Why each request with a token was refused, in order (e.g. `DPoP proof jti replayed`). */
  refused: string[]
}

/**
 * Starts the resource and resolves once it listens. With a valid bearer token whose `aud` is the
 * resource, the API answers 200 `{ sub, scope }` (to an MCP `initialize`, a JSON-RPC result).
 */
export async function startProtectedResource(options: ProtectedResourceOptions): Promise<ProtectedResource> {
  const path = options.path ?? '/mcp'
  const scope = options.scope ?? 'mcp:tools'
  const discovery = options.metadataDiscovery ?? 'header'
  const protocol = options.protocol ?? 'rest'
  const stats: ProtectedResourceStats = { requests: {}, authorized: 0, refused: [] }
  const dpop = { nonce: randomBytes(16).toString('base64url'), seen: new Set<string>() }
  const state: { url?: string; resource?: string; metadataUrl?: string } = {}

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const key = `${req.method} ${url.pathname}`
    stats.requests[key] = (stats.requests[key] ?? 0) + 1
    if (url.pathname === new URL(state.metadataUrl as string).pathname && req.method === 'GET') {
      return json(res, 200, {
        resource: state.resource,
        authorization_servers: [options.authorizationServer.issuer],
        scopes_supported: scope.split(' '),
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256'],
        ...(options.dpop === 'required' ? { dpop_bound_access_tokens_required: true } : {}),
      })
    }
    if (url.pathname !== path) return json(res, 404, { error: 'not_found' })
    if (protocol === 'mcp' && req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' })
    const body = req.method === 'POST' ? await readBody(req) : ''
    const match = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
    const scheme = match?.[1].toLowerCase()
    const identity = match ? await options.authorizationServer.verifyAccessToken(match[2]) : undefined
    const audience = identity ? [identity.aud ?? []].flat() : []
    const refuse = (error: string | undefined, description?: string, headers: Record<string, string> = {}): void => {
      if (description) stats.refused.push(description)
      const params = [discovery === 'header' ? `resource_metadata="${state.metadataUrl}"` : undefined, `scope="${scope}"`, error ? `error="${error}"` : undefined, description ? `error_description="${description}"` : undefined].filter(Boolean).join(', ')
      // A DPoP error (RFC 9449 §7.1) is the DPoP scheme's; `required` offers no other.
      const dpopError = error === 'use_dpop_nonce' || error === 'invalid_dpop_proof'
      const challenges = options.dpop === 'required' || dpopError ? `DPoP algs="ES256", ${params}` : `Bearer ${params}`
      json(res, 401, { error: error ?? 'unauthorized' }, { 'www-authenticate': challenges, ...headers })
    }
    if (!identity || !audience.includes(state.resource as string)) return refuse(identity || match ? 'invalid_token' : undefined, identity || match ? 'the token is not valid for this resource' : undefined)
    if (identity.jkt !== undefined || scheme === 'dpop' || options.dpop === 'required') {
      if (identity.jkt === undefined) return refuse('invalid_token', 'this resource takes DPoP-bound tokens only')
      if (scheme !== 'dpop') return refuse('invalid_token', 'a DPoP-bound token must be sent with the DPoP scheme and a proof')
      const problem = await proofProblem(req, match?.[2] as string, identity.jkt, state.url as string, dpop, options.dpopNonce === true)
      if (problem === 'use_dpop_nonce') return refuse('use_dpop_nonce', 'the DPoP proof needs this server\'s nonce', { 'dpop-nonce': dpop.nonce })
      if (problem) return refuse('invalid_dpop_proof', problem)
    }
    stats.authorized += 1
    if (protocol === 'mcp') {
      const id = (() => {
        try {
          return (JSON.parse(body) as { id?: unknown }).id ?? null
        } catch {
          return null
        }
      })()
      return json(res, 200, { jsonrpc: '2.0', id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'clilogin-testkit', version: '0' } } })
    }
    return json(res, 200, { sub: identity.sub, scope: identity.scope ?? null })
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
  state.url = `http://127.0.0.1:${port}${path}`
  state.resource = options.resourceIdentifier ?? state.url
  state.metadataUrl = `http://127.0.0.1:${port}${discovery === 'header' ? '/metadata' : '/.well-known'}/oauth-protected-resource${path}`
  options.authorizationServer.addResourceServer(state.resource, { scope })

  let closing: Promise<void> | undefined
  return {
    url: state.url,
    resource: state.resource,
    metadataUrl: state.metadataUrl,
    stats,
    rotateDpopNonce() {
      dpop.nonce = randomBytes(16).toString('base64url')
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/** Proofs older or newer than this are refused (RFC 9449 §11.1). */
const DPOP_IAT_WINDOW_S = 60

/** What is wrong with the request's DPoP proof for this token (RFC 9449 §4.3), `use_dpop_nonce`, or undefined. */
async function proofProblem(req: IncomingMessage, token: string, jkt: string, url: string, dpop: { nonce: string; seen: Set<string> }, requireNonce: boolean): Promise<string | undefined> {
  const proof = req.headers.dpop
  if (typeof proof !== 'string' || proof === '') return 'no DPoP proof'
  let payload: Record<string, unknown>
  let jwk: JWK
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] })
    payload = verified.payload as Record<string, unknown>
    jwk = verified.protectedHeader.jwk as JWK
  } catch {
    return 'the DPoP proof is not a valid dpop+jwt'
  }
  if ((await calculateJwkThumbprint(jwk)) !== jkt) return 'the DPoP proof is signed by another key than the token is bound to'
  if (payload.htm !== req.method) return 'DPoP proof htm mismatch'
  if (payload.htu !== url) return 'DPoP proof htu mismatch'
  if (payload.ath !== createHash('sha256').update(token).digest('base64url')) return 'DPoP proof ath mismatch'
  if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > DPOP_IAT_WINDOW_S) return 'DPoP proof iat is not recent'
  if (typeof payload.jti !== 'string' || payload.jti === '') return 'DPoP proof has no jti'
  if (requireNonce && payload.nonce !== dpop.nonce) return 'use_dpop_nonce'
  if (dpop.seen.has(payload.jti)) return 'DPoP proof jti replayed'
  dpop.seen.add(payload.jti)
  return undefined
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 64 * 1024) break
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
