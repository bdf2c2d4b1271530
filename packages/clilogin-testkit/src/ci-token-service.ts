/**
 * A stand-in for a CI platform's OIDC token service, on 127.0.0.1: what a job gets from GitHub
 * Actions (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: GET the URL with
 * `&audience=…` and `Authorization: bearer <token>` → `{ "value": "<JWT>" }`) or as a GitLab CI
 * `id_tokens` variable (`mint()`). Its JWTs (ES256, its own key, `iss` its origin) are what a test
 * provider trusts with `startTestProvider({ trustedAssertionIssuers: [service] })`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes, randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'

export interface CiTokenServiceOptions {
  /** The workload's subject in every token (default `repo:acme/app:ref:refs/heads/main`, GitHub's shape). */
  subject?: string
  /** Lifetime of the tokens, in seconds (default 300). */
  ttlS?: number
}

export interface MintOptions {
  /** The token's `aud` (GitHub: the `audience` asked for). */
  audience: string
  /** Seconds from now until `exp`; negative for a token that has already expired. Default the service's ttlS. */
  expiresInS?: number
  subject?: string
}

export interface CiTokenService {
  /** `http://127.0.0.1:<port>`: the tokens' `iss`. */
  readonly issuer: string
  /** The public key set (also served at `<issuer>/.well-known/jwks.json`). */
  readonly jwks: { keys: JWK[] }
  /** The GitHub Actions variables a job with `permissions: id-token: write` has. */
  readonly githubEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string }
  /** What it counted: tokens handed out over HTTP, and the audience of each. */
  readonly stats: { requests: number; audiences: string[] }
  /** A token as a GitLab CI `id_tokens` variable holds it. */
  mint(options: MintOptions): Promise<string>
  close(): Promise<void>
}

export async function startCiTokenService(options: CiTokenServiceOptions = {}): Promise<CiTokenService> {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const kid = randomUUID()
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }
  const requestToken = randomBytes(24).toString('base64url')
  const stats = { requests: 0, audiences: [] as string[] }
  const ttlS = options.ttlS ?? 300
  let issuer = ''
  const mint = async (asked: MintOptions): Promise<string> => {
    const nowS = Math.floor(Date.now() / 1000)
    return new SignJWT({ repository: 'acme/app', ref: 'refs/heads/main' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(asked.subject ?? options.subject ?? 'repo:acme/app:ref:refs/heads/main')
      .setAudience(asked.audience)
      .setIssuedAt(nowS - 5)
      .setNotBefore(nowS - 5)
      .setExpirationTime(nowS + (asked.expiresInS ?? ttlS))
      .setJti(randomUUID())
      .sign(privateKey)
  }
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', issuer)
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json') return send(200, jwks)
    if (req.method !== 'GET' || url.pathname !== '/token') return send(404, { message: 'Not Found' })
    if (req.headers.authorization !== `bearer ${requestToken}` && req.headers.authorization !== `Bearer ${requestToken}`) return send(401, { message: 'Bad credentials' })
    const audience = url.searchParams.get('audience')
    if (!audience) return send(400, { message: 'audience is required' })
    stats.requests += 1
    stats.audiences.push(audience)
    send(200, { count: 1, value: await mint({ audience }) })
  }
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 500
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    issuer,
    jwks,
    githubEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer}/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    stats,
    mint,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
