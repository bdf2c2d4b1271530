/**
 * A scripted OpenID provider on 127.0.0.1 for attacker tests: every answer can be replaced
 * (discovery document, token endpoint, device endpoint, revocation, JWKS), ID tokens are signed
 * with a real ES256 key (or, on demand, with one that is not in its JWKS), and every request is
 * recorded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  query: URLSearchParams
  body: string
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

export interface HostileProvider {
  issuer: string
  requests: RecordedRequest[]
  /** Overrides merged into the discovery document. */
  metadata: Record<string, unknown>
  /** Replaces the answer of a path (e.g. '/token', '/device', '/revoke', '/.well-known/openid-configuration'). */
  handlers: Record<string, Handler>
  /** Claims merged into every ID token the default token endpoint issues. */
  claims: Record<string, unknown>
  /** Sign ID tokens with a key that is not in the JWKS. */
  signWithForeignKey: boolean
  /** What the default token endpoint answers (merged over a valid answer). */
  tokenAnswer: Record<string, unknown>
  /** A signed ID token with these claims (iss, aud, iat, exp filled in). */
  idToken(claims: Record<string, unknown>): string
  close(): Promise<void>
}

export const CLIENT_ID = 'hostile-client'

function keyPair(): { privateKey: KeyObject; jwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' } }
}

function jwt(privateKey: KeyObject, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'JWT' })).toString('base64url')
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  return `${header}.${body}.${signature}`
}

export function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(value))
}

export async function startHostileProvider(): Promise<HostileProvider> {
  const own = keyPair()
  const foreign = keyPair()
  let nonce: string | undefined
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', provider.issuer)
      provider.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body })
      const handler = provider.handlers[url.pathname]
      if (handler) return handler(req, res, body)
      switch (url.pathname) {
        case '/.well-known/openid-configuration':
          return json(res, 200, {
            issuer: provider.issuer,
            authorization_endpoint: `${provider.issuer}/authorize`,
            token_endpoint: `${provider.issuer}/token`,
            device_authorization_endpoint: `${provider.issuer}/device`,
            revocation_endpoint: `${provider.issuer}/revoke`,
            end_session_endpoint: `${provider.issuer}/logout`,
            jwks_uri: `${provider.issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['none'],
            ...provider.metadata,
          })
        case '/jwks':
          return json(res, 200, { keys: [own.jwk] })
        case '/authorize': {
          // The "user" approves at once: redirect back with a code (the nonce is kept for the ID token).
          nonce = url.searchParams.get('nonce') ?? undefined
          const back = new URL(url.searchParams.get('redirect_uri') ?? '')
          back.searchParams.set('code', 'the-code')
          back.searchParams.set('state', url.searchParams.get('state') ?? '')
          res.writeHead(302, { location: back.href }).end()
          return
        }
        case '/token':
          return json(res, 200, {
            access_token: 'access-token-1',
            token_type: 'Bearer',
            expires_in: 3600,
            refresh_token: 'refresh-token-1',
            id_token: provider.idToken({ sub: 'user-1', ...(nonce ? { nonce } : {}), ...provider.claims }),
            ...provider.tokenAnswer,
          })
        case '/revoke':
          res.writeHead(200).end()
          return
        default:
          res.writeHead(404).end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const provider: HostileProvider = {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    metadata: {},
    handlers: {},
    claims: {},
    tokenAnswer: {},
    signWithForeignKey: false,
    idToken(claims) {
      const now = Math.floor(Date.now() / 1000)
      return jwt(provider.signWithForeignKey ? foreign.privateKey : own.privateKey, { iss: provider.issuer, aud: CLIENT_ID, iat: now, exp: now + 3600, ...claims })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return provider
}
