/**
 * A small OAuth-protected API on 127.0.0.1 — an MCP server as far as logging in goes: RFC 9728
 * protected resource metadata, and 401 with `WWW-Authenticate: Bearer resource_metadata="…",
 * scope="…"` for a request without a valid token for it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
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
}

export interface ProtectedResource {
  /** `http://127.0.0.1:<port><path>`: what a client is given. */
  readonly url: string
  /** The resource identifier the metadata publishes (what the client sends as `resource`). */
  readonly resource: string
  /** Where the metadata is served. */
  readonly metadataUrl: string
  readonly stats: ProtectedResourceStats
  close(): Promise<void>
}

export interface ProtectedResourceStats {
  /** Every request, by `<METHOD> <path>`. */
  requests: Record<string, number>
  /** Requests that carried a valid token for this resource. */
  authorized: number
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
  const stats: ProtectedResourceStats = { requests: {}, authorized: 0 }
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
      })
    }
    if (url.pathname !== path) return json(res, 404, { error: 'not_found' })
    if (protocol === 'mcp' && req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' })
    const body = req.method === 'POST' ? await readBody(req) : ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
    const identity = match ? await options.authorizationServer.verifyAccessToken(match[1]) : undefined
    const audience = identity ? [identity.aud ?? []].flat() : []
    if (!identity || !audience.includes(state.resource as string)) {
      const params = [discovery === 'header' ? `resource_metadata="${state.metadataUrl}"` : undefined, `scope="${scope}"`, identity ? 'error="invalid_token"' : undefined]
      return json(res, 401, { error: 'unauthorized' }, { 'www-authenticate': `Bearer ${params.filter(Boolean).join(', ')}` })
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
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
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
