/**
 * A scripted MCP server and OAuth authorization server on one 127.0.0.1 origin, for the answers real
 * servers give that the test kit's oidc-provider never does (a registration answer of any shape,
 * a 2026-07-28 server that refuses a bare `initialize`, the 2025-03-26
 * revision without any metadata, an unknown client sent to the server's own error page…). Every
 * answer is set through `config`; every request is recorded. The authorization endpoint signs in at
 * once: it redirects back with a code (so the test kit's browser double follows it straight back).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingMessage['headers']
  body: string
}

export interface ScriptedConfig {
  /** How /mcp answers a request without a valid token. `2026-07-28`: a POST without matching
   * `MCP-Protocol-Version` and `Mcp-Method` headers is a 400 HeaderMismatch, `server/discover` with
   * them a 401; `2025-11-25`: any POST a 401. A GET is 405 either way. */
  revision: '2025-11-25' | '2026-07-28'
  /** Answers to these JSON-RPC methods (POSTed without a token) instead of the revision's. */
  answers?: Partial<Record<'server/discover' | 'initialize', { status: number; body: unknown }>>
  /** The 401 names the protected resource metadata (`resource_metadata`), or not. */
  challengeNamesMetadata: boolean
  /** The 401's `scope`, if any. */
  challengeScope?: string
  /** Serve protected resource metadata at /.well-known/oauth-protected-resource/mcp (RFC 9728). */
  protectedResourceMetadata: boolean
  /** Its `scopes_supported`. */
  resourceScopes?: string[]
  /** The authorization server it names (default: this origin's). */
  authorizationServer?: string
  /** Where this origin publishes authorization server metadata, if at all. */
  metadataAt: 'oauth-authorization-server' | 'openid-configuration' | 'none'
  /** Merged into the authorization server metadata (e.g. `scopes_supported`, `issuer`). */
  metadata: Record<string, unknown>
  /** Replaces the registration endpoint's answer (default 201 with `client_id`, `client_secret` and `client_secret_expires_at` 0). */
  registrationAnswer?: (request: Record<string, unknown>, clientId: string) => { status: number; body: unknown }
  /** Registered client ids are this and a number (default `client-`). */
  clientIdPrefix: string
  /** How the authorization endpoint answers a client it does not know. */
  unknownClient: 'error-page' | 'own-error-redirect'
  /** The `iss` of the authorization response: the issuer, none, or this value. */
  iss: 'issuer' | 'none' | string
}

export interface ScriptedMcpServer {
  readonly origin: string
  /** The authorization server's issuer: the origin, as RFC 8414 builds root metadata URLs from it. */
  readonly issuer: string
  /** The MCP endpoint: `<origin>/mcp`. */
  readonly mcpUrl: string
  readonly config: ScriptedConfig
  readonly requests: RecordedRequest[]
  /** Client ids registered here, with their secrets. */
  readonly clients: Map<string, string | undefined>
  /** Requests to `<METHOD> <path>`. */
  count(key: string): number
  close(): Promise<void>
}

interface Grant {
  clientId: string
  challenge: string
  redirectUri: string
  scope?: string
}

export async function startScriptedMcpServer(overrides: Partial<ScriptedConfig> = {}): Promise<ScriptedMcpServer> {
  const config: ScriptedConfig = {
    revision: '2025-11-25',
    challengeNamesMetadata: true,
    protectedResourceMetadata: true,
    metadataAt: 'oauth-authorization-server',
    metadata: {},
    clientIdPrefix: 'client-',
    unknownClient: 'error-page',
    iss: 'issuer',
    ...overrides,
  }
  const requests: RecordedRequest[] = []
  const clients = new Map<string, string | undefined>()
  const grants = new Map<string, Grant>()
  const tokens = new Set<string>()
  let origin = ''
  let registered = 0

  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin)
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body })
      try {
        route(req, res, url, body)
      } catch (error) {
        json(res, 500, { error: 'server_error', error_description: String(error) })
      }
    })
  })

  function metadataDocument(): Record<string, unknown> {
    return {
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', 'none'],
      ...(config.metadataAt === 'openid-configuration' ? { jwks_uri: `${origin}/jwks`, subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['ES256'] } : {}),
      ...config.metadata,
    }
  }

  function route(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void {
    const key = `${req.method} ${url.pathname}`
    if (key === 'GET /.well-known/oauth-protected-resource/mcp' && config.protectedResourceMetadata) {
      return json(res, 200, {
        resource: `${origin}/mcp`,
        authorization_servers: [config.authorizationServer ?? origin],
        ...(config.resourceScopes ? { scopes_supported: config.resourceScopes } : {}),
      })
    }
    if (config.metadataAt !== 'none' && key === `GET /.well-known/${config.metadataAt}`) return json(res, 200, metadataDocument())
    if (url.pathname === '/mcp') return mcp(req, res, body)
    if (key === 'POST /register') return register(res, body)
    if (key === 'GET /authorize') return authorize(res, url)
    if (key === 'POST /token') return token(req, res, body)
    if (key === 'GET /error') return html(res, 200, '<p>Unknown client</p>')
    return json(res, 404, { error: 'not_found' })
  }

  function mcp(req: IncomingMessage, res: ServerResponse, body: string): void {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (bearer && tokens.has(bearer)) return json(res, 200, { jsonrpc: '2.0', id: 1, result: { tools: [] } })
    if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' })
    const method = (JSON.parse(body || '{}') as { method?: string }).method
    const answer = config.answers?.[method as 'server/discover' | 'initialize']
    if (answer) return json(res, answer.status, answer.body)
    if (config.revision === '2026-07-28') {
      if (req.headers['mcp-protocol-version'] !== '2026-07-28' || req.headers['mcp-method'] !== method) {
        return json(res, 400, { jsonrpc: '2.0', id: 1, error: { code: -32020, message: 'HeaderMismatch: MCP-Protocol-Version and Mcp-Method must match the request' } })
      }
    }
    const params = [
      config.challengeNamesMetadata ? `resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"` : undefined,
      config.challengeScope ? `scope="${config.challengeScope}"` : undefined,
    ].filter(Boolean)
    res.writeHead(401, { 'www-authenticate': `Bearer ${params.join(', ')}`.trim(), 'content-type': 'application/json' }).end('{"error":"invalid_token"}')
  }

  function register(res: ServerResponse, body: string): void {
    const request = JSON.parse(body) as Record<string, unknown>
    const clientId = `${config.clientIdPrefix}${++registered}`
    const answer = config.registrationAnswer?.(request, clientId) ?? {
      status: 201,
      body: { client_id: clientId, client_secret: `se-cret_${registered}~.x`, client_secret_expires_at: 0, redirect_uris: request.redirect_uris, client_name: request.client_name },
    }
    const answered = answer.body as { client_id?: unknown; client_secret?: unknown }
    if (answer.status < 300 && typeof answered?.client_id === 'string') clients.set(answered.client_id, typeof answered.client_secret === 'string' ? answered.client_secret : undefined)
    json(res, answer.status, answer.body)
  }

  function authorize(res: ServerResponse, url: URL): void {
    const clientId = url.searchParams.get('client_id') ?? ''
    const redirectUri = url.searchParams.get('redirect_uri') ?? ''
    if (!clients.has(clientId)) {
      if (config.unknownClient === 'own-error-redirect') return void res.writeHead(302, { location: '/error?error=unknown_client' }).end()
      return html(res, 400, '<p>invalid_client: unknown client</p>')
    }
    const back = new URL(redirectUri)
    const state = url.searchParams.get('state')
    if (state) back.searchParams.set('state', state)
    if (url.searchParams.get('response_type') !== 'code' || !url.searchParams.get('code_challenge')) {
      back.searchParams.set('error', 'invalid_request')
    } else {
      const code = randomBytes(16).toString('hex')
      grants.set(code, { clientId, challenge: url.searchParams.get('code_challenge') as string, redirectUri, scope: url.searchParams.get('scope') ?? undefined })
      back.searchParams.set('code', code)
    }
    if (config.iss === 'issuer') back.searchParams.set('iss', (metadataDocument().issuer as string) ?? origin)
    else if (config.iss !== 'none') back.searchParams.set('iss', config.iss)
    res.writeHead(302, { location: back.href }).end()
  }

  function token(req: IncomingMessage, res: ServerResponse, body: string): void {
    const form = new URLSearchParams(body)
    const basic = /^Basic (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    const [basicId, basicSecret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' '))) : []
    const clientId = basicId ?? form.get('client_id') ?? ''
    const secret = basicSecret ?? form.get('client_secret') ?? undefined
    if (!clients.has(clientId) || clients.get(clientId) !== secret) return json(res, 401, { error: 'invalid_client' })
    const grant = grants.get(form.get('code') ?? '')
    const verifier = form.get('code_verifier') ?? ''
    if (form.get('grant_type') !== 'authorization_code' || !grant || grant.clientId !== clientId || grant.challenge !== createHash('sha256').update(verifier).digest('base64url')) {
      return json(res, 400, { error: 'invalid_grant' })
    }
    grants.delete(form.get('code') as string)
    const accessToken = `at-${randomBytes(8).toString('hex')}`
    tokens.add(accessToken)
    json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600, ...(grant.scope ? { scope: grant.scope } : {}) })
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
  origin = `http://127.0.0.1:${port}`
  return {
    origin,
    issuer: origin,
    mcpUrl: `${origin}/mcp`,
    config,
    requests,
    clients,
    count: (key) => requests.filter((r) => `${r.method} ${r.path}` === key).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(value))
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html' }).end(`<!doctype html><html><body>${body}</body></html>`)
}
