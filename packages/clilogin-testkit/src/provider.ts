/**
 * A real OpenID provider for tests (and `cli-login demo`): oidc-provider (lazy-loaded) on 127.0.0.1,
 * configured to look and behave like an Auth0 tenant (paths, `audience` → JWT access tokens, refresh
 * tokens for `offline_access` without `prompt=consent`, rotation with reuse detection, device flow,
 * end session), with self-contained sign-in, consent and device pages, an example
 * API (`GET /api/me`), and test hooks (faults, stats, revocation, expiry) built from Koa middleware,
 * provider events and the in-memory store — never by patching oidc-provider's internals.
 *
 * It prints nothing by itself: signing and cookie keys are generated at startup, every default
 * helper that would log a notice is replaced, and the in-memory adapter is our own.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose'

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** A user who can sign in on the provider's sign-in page. */
export interface DemoUser { sub: string; username: string; password: string; email: string; name: string }

/** The users every provider has unless `users` is given: alice and bob. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  Object.freeze({ sub: 'auth0|alice', username: 'alice', password: 'alice-demo-password', email: 'alice@example.com', name: 'Alice Liddell' }),
  Object.freeze({ sub: 'auth0|bob', username: 'bob', password: 'bob-demo-password', email: 'bob@example.com', name: 'Bob Builder' }),
])

/** A public native client (no secret), registered on every provider. */
export const DEMO_CLIENT_ID = 'cli-login-demo'
/** A confidential client (DEMO_CLIENT_SECRET, in the body or HTTP Basic), registered on every provider. */
export const DEMO_CONFIDENTIAL_CLIENT_ID = 'cli-login-demo-secret'
/** A demo value, not a secret: the provider only ever listens on loopback. */
export const DEMO_CLIENT_SECRET: string = 'cli-login-demo-client-secret-not-for-production'
/** The API (Auth0 `audience`) every provider knows; access tokens for it are RS256 JWTs. */
export const DEMO_AUDIENCE = 'https://api.demo.cli-login.test/'
/**
 * A second API. A login for DEMO_AUDIENCE may get tokens for it with its refresh token, as Auth0's
 * multi-resource refresh tokens allow (refresh with `audience` or `resource`).
 */
export const DEMO_SECOND_AUDIENCE = 'https://billing.demo.cli-login.test/'

/** A client the tool under test uses (its baked-in client id), registered besides the demo clients. */
export interface TestClient {
  clientId: string
  /** With a secret the client is confidential (client_secret_post or client_secret_basic); without, public. */
  clientSecret?: string
  /** Shown on the sign-in and consent pages. Default: the client id. */
  clientName?: string
}

export interface TestProviderOptions {
  /** Port on 127.0.0.1. Default 0 (any free port; the issuer carries it). */
  port?: number
  /** Lifetime of access tokens, in seconds. Default 600. */
  accessTokenTtlS?: number
  /** Lifetime of refresh tokens, in seconds. Default 14 days. */
  refreshTokenTtlS?: number
  /** Lifetime of device codes, in seconds. Default 600. */
  deviceCodeTtlS?: number
  /** Serve https with these instead of http (the certificate must cover IP 127.0.0.1). */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /** Pre-fill the sign-in form with this user's username and password. */
  prefillUsername?: string
  /** Extra redirect URIs (and post-logout redirect URIs) for every client. Loopback ones on any port are already accepted. */
  redirectUris?: string[]
  /** Who can sign in. Default DEMO_USERS. */
  users?: readonly DemoUser[]
  /** Clients to register besides DEMO_CLIENT_ID and DEMO_CONFIDENTIAL_CLIENT_ID. */
  clients?: readonly TestClient[]
  /** APIs (`audience` values) to accept besides DEMO_AUDIENCE and DEMO_SECOND_AUDIENCE; their access tokens are JWTs too. */
  audiences?: readonly string[]
  /**
   * Open dynamic client registration (RFC 7591) at `/oidc/register`, as MCP authorization servers
   * offer: any client may register itself (no initial access token). Default false.
   */
  registration?: boolean
  /**
   * `oidc` (default): an OpenID provider (`/.well-known/openid-configuration`, and RFC 8414 metadata
   * at `/.well-known/oauth-authorization-server` too). `oauth2`: a plain OAuth 2 server — RFC 8414
   * metadata only, no OpenID discovery, no ID tokens, no userinfo, no OpenID scopes listed.
   */
  discovery?: 'oidc' | 'oauth2'
}

/** Options of addResourceServer(). */
export interface ResourceServerOptions {
  /** The scopes its tokens may carry, space-separated (default `read:me`). */
  scope?: string
}

/** Faults a test switches on and off while the provider runs (plain mutable fields). */
export interface TestProviderFaults {
  /**
   * When set, POST /oauth/token answers this instead of the real thing (status, raw body,
   * content-type, default application/json) — for the next `times` requests, or until unset.
   */
  tokenEndpoint?: { status: number; body: string; contentType?: string; times?: number }
  /** When set, every POST /oauth/token waits this long before it is handled (or faulted). */
  tokenEndpointDelayMs?: number
  /**
   * When set, a successful token answer is held this long after the grant was made (a refresh
   * token rotated, the old one already spent) before it is sent: the moment a client must not lose it.
   */
  tokenAnswerDelayMs?: number
  /**
   * When set, GET of the JWKS waits `delayMs` (default 0), then answers `status` (an empty JSON
   * object) instead of the key set, or the key set when no status is given; for the next `times`
   * requests (default 1), then the fault clears itself.
   */
  jwks?: { status?: number; delayMs?: number; times?: number }
  /** When set, the `iss` parameter of the authorization response redirect to the client is replaced by this value. */
  authorizationResponseIss?: string
  /** Answer the next N device-code token polls with error=slow_down (HTTP 400) before handling normally. */
  deviceSlowDown?: number
  /**
   * Ignore `audience` on refresh requests, answering with a token for the login's own API: what
   * Auth0 does when no refresh-token policy allows the API asked for.
   */
  ignoreRefreshAudience?: boolean
}

/** What the provider counted since it started (plain mutable fields: a test may reset them). */
export interface TestProviderStats {
  /** Every request, by `<METHOD> <path>` (e.g. `POST /oauth/token`). */
  requests: Record<string, number>
  /** Every POST /oauth/token (faulted ones included). */
  tokenRequests: number
  /** Successful grants by grant_type (`authorization_code`, `refresh_token`, `urn:ietf:params:oauth:grant-type:device_code`). */
  grants: Record<string, number>
  /** refresh_token grants that failed (e.g. invalid_grant). */
  refreshErrors: number
  /** POST /oauth/revoke calls that succeeded. */
  revocations: number
  /** Clients registered through POST /oidc/register (with `registration: true`). */
  registrations: number
  /** Query of every GET /authorize, in order, as the client sent it. */
  authorizationRequests: URLSearchParams[]
  /** Date.now() of each device-code token poll (slowed-down ones included). */
  deviceTokenPolls: number[]
}

/** The identity an access token stands for. */
export interface TokenIdentity { sub: string; aud?: string | string[]; scope?: string }

export interface TestProvider {
  /** `http://127.0.0.1:<port>/` (https with `tls`); discovery at `<issuer>.well-known/openid-configuration`. */
  readonly issuer: string
  readonly port: number
  readonly users: readonly DemoUser[]
  readonly faults: TestProviderFaults
  readonly stats: TestProviderStats
  /** What an API would do with a bearer token: the identity it stands for, or undefined when the token is not valid now. */
  verifyAccessToken(token: string): Promise<TokenIdentity | undefined>
  /**
   * Revokes every grant of a user (by `sub` or username), as an admin removing the user's
   * authorization would: their refresh tokens (and opaque access tokens) stop working, the next
   * refresh gets `invalid_grant`. JWT access tokens stay valid until they expire, as at Auth0.
   * Returns how many grants were revoked.
   */
  revokeGrants(user: string): number
  /**
   * Every access token issued so far stops being accepted (verifyAccessToken, /api/me, /userinfo),
   * as if it had expired; with `refreshTokens: true`, every refresh token so far is gone too.
   * Tokens issued afterwards are not affected. The client still believes its token is fresh.
   */
  expireTokens(options?: { refreshTokens?: boolean }): void
  /**
   * Accepts another API as a resource indicator (RFC 8707) or audience: its access tokens are JWTs
   * with that `aud`. startProtectedResource() calls it for its URL.
   */
  addResourceServer(identifier: string, options?: ResourceServerOptions): void
  /**
   * Forgets a dynamically registered client, as a server that expires or loses registrations does:
   * its authorization requests get an error page, its token requests `invalid_client`. Returns
   * whether there was such a client.
   */
  forgetClient(clientId: string): boolean
  /** Closes the server and every open connection at once. */
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
/** Device polling interval announced in the device authorization response (oidc-provider sends none). */
const DEVICE_INTERVAL_S = 1
/** Ports a CLI may register with a provider that matches ports exactly (cli-login's default range). */
const REGISTERED_PORTS = { first: 4242, count: 50 }
/** Loopback callback paths registered for the clients; native clients match any loopback port. */
const CALLBACK_PATHS = ['/callback', '/cb', '/oauth/callback', '/oauth2/callback', '/auth/callback', '/login/callback', '/']
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]']
const ROUTES = {
  authorization: '/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  device_authorization: '/oauth/device/code',
  code_verification: '/activate',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  end_session: '/oidc/logout',
  introspection: '/oauth/introspect',
  pushed_authorization_request: '/oauth/par',
  registration: '/oidc/register',
}
const OIDC_ONLY_METADATA = ['userinfo_endpoint', 'id_token_signing_alg_values_supported', 'claims_supported', 'claim_types_supported', 'subject_types_supported', 'claims_parameter_supported', 'end_session_endpoint', 'request_parameter_supported', 'request_uri_parameter_supported', 'require_request_uri_registration']
const OIDC_SCOPES = ['openid', 'profile', 'email']
const RESOURCE_SERVER_SCOPE = 'openid profile email offline_access read:me'
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Sign you in with your demo account',
  profile: 'See your name and username',
  email: 'See your email address',
  offline_access: 'Stay signed in (refresh tokens) until you log out',
  'read:me': 'Read your profile through the demo API',
}
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
const MAX_FORM_BYTES = 64 * 1024

// ---------------------------------------------------------------------------------------------
// The slice of oidc-provider (and Koa) this module uses. oidc-provider ships no types.
// ---------------------------------------------------------------------------------------------

interface OidcContextState {
  params?: Record<string, unknown>
  client?: { clientId: string; clientName?: string }
  route?: string
}

interface KoaContext {
  method: string
  path: string
  querystring: string
  protocol: string
  host: string
  status: number
  body: unknown
  type: string
  req: IncomingMessage
  res: ServerResponse
  response: { get(field: string): string }
  oidc?: OidcContextState
  get(field: string): string
  set(field: string, value: string): void
  redirect(url: string): void
}
type Next = () => Promise<void>

interface InteractionDetails {
  uid: string
  prompt: { name: string; reasons?: string[]; details: Record<string, unknown> }
  params: Record<string, unknown>
  session?: { accountId?: string }
  grantId?: string
}

interface GrantInstance {
  addOIDCScope(scope: string): void
  addOIDCClaims(claims: string[]): void
  addResourceScope(resource: string, scope: string): void
  save(): Promise<string>
}

interface GrantModel {
  new (init: { accountId: string; clientId: string }): GrantInstance
  find(id: string): Promise<GrantInstance | undefined>
}

interface AccessTokenInstance { accountId?: string; aud?: string | string[]; scope?: string; isExpired?: boolean }

interface ProviderInstance {
  use(middleware: (ctx: KoaContext, next: Next) => Promise<void>): void
  on(event: string, listener: (...args: unknown[]) => void): void
  callback(): (req: IncomingMessage, res: ServerResponse) => void
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>
  Grant: GrantModel
  AccessToken: { find(value: string): Promise<AccessTokenInstance | undefined> }
  Client: { find(id: string): Promise<{ clientId: string; clientName?: string } | undefined> }
}

interface ProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance
  errors: { InvalidTarget: new (description?: string) => Error }
}

/**
 * oidc-provider warns on stdout/stderr when imported on Node.js 20 ("Unsupported runtime"); the
 * demo provider must print nothing, so exactly that one notice is dropped while the module loads.
 */
async function importOidcProvider(): Promise<ProviderModule> {
  const specifier = 'oidc-provider'
  const originalWarn = console.warn
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return
    originalWarn.apply(console, args)
  }
  try {
    return (await import(specifier)) as ProviderModule
  } finally {
    console.warn = originalWarn
  }
}

// ---------------------------------------------------------------------------------------------
// In-memory adapter (oidc-provider's own one warns when used)
// ---------------------------------------------------------------------------------------------

type StoredPayload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number }

class DemoStore {
  readonly entries = new Map<string, { payload: StoredPayload; expiresAt: number }>()
  readonly grantMembers = new Map<string, Set<string>>()
  readonly userCodes = new Map<string, string>()
  readonly sessionUids = new Map<string, string>()

  get(key: string): StoredPayload | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry.payload
  }
}

const CLOCK_TOLERANCE_S = 15

class DemoAdapter {
  readonly #model: string
  readonly #store: DemoStore

  constructor(model: string, store: DemoStore) {
    this.#model = model
    this.#store = store
  }

  #key(id: string): string {
    return `${this.#model}:${id}`
  }

  async upsert(id: string, payload: StoredPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id)
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + (expiresIn + CLOCK_TOLERANCE_S) * 1000 : Infinity
    this.#store.entries.set(key, { payload, expiresAt })
    if (payload.grantId) {
      const members = this.#store.grantMembers.get(payload.grantId) ?? new Set<string>()
      members.add(key)
      this.#store.grantMembers.set(payload.grantId, members)
    }
    if (payload.userCode) this.#store.userCodes.set(payload.userCode, id)
    if (this.#model === 'Session' && payload.uid) this.#store.sessionUids.set(payload.uid, id)
  }

  async find(id: string): Promise<StoredPayload | undefined> {
    return this.#store.get(this.#key(id))
  }

  async findByUserCode(userCode: string): Promise<StoredPayload | undefined> {
    const id = this.#store.userCodes.get(userCode)
    return id === undefined ? undefined : this.find(id)
  }

  async findByUid(uid: string): Promise<StoredPayload | undefined> {
    const id = this.#store.sessionUids.get(uid)
    return id === undefined ? undefined : this.find(id)
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id))
    if (payload) payload.consumed = Math.floor(Date.now() / 1000)
  }

  async destroy(id: string): Promise<void> {
    this.#store.entries.delete(this.#key(id))
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const members = this.#store.grantMembers.get(grantId)
    if (!members) return
    const prefix = `${this.#model}:`
    for (const key of members) {
      if (!key.startsWith(prefix)) continue
      this.#store.entries.delete(key)
      members.delete(key)
    }
    if (members.size === 0) this.#store.grantMembers.delete(grantId)
  }
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#eef1f6;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933}
main{background:#fff;width:100%;max-width:400px;margin:24px;padding:32px 32px 24px;border-radius:12px;
box-shadow:0 10px 30px rgba(31,41,51,.12)}
.brand{font-size:13px;letter-spacing:.06em;text-transform:uppercase;color:#52606d;margin:0 0 8px}
h1{font-size:22px;margin:0 0 16px}
p{line-height:1.5;margin:0 0 14px}
label{display:block;font-size:14px;font-weight:600;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;height:42px;padding:0 12px;font-size:16px;border:1px solid #cbd2d9;border-radius:8px}
input:focus{outline:2px solid #3e7bfa;border-color:#3e7bfa}
.actions{display:flex;flex-direction:row-reverse;gap:10px;margin-top:20px}
button{flex:1;height:42px;font-size:15px;font-weight:600;border-radius:8px;border:1px solid #cbd2d9;background:#fff;color:#1f2933;cursor:pointer}
button.primary{background:#3e7bfa;border-color:#3e7bfa;color:#fff}
button:hover{filter:brightness(.95)}
.error{background:#fde8e8;color:#9b1c1c;border-radius:8px;padding:10px 12px;font-size:14px}
.hint{background:#f5f7fa;border-radius:8px;padding:10px 12px;font-size:13px;color:#52606d;margin-top:18px}
.hint code,.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.code{display:block;text-align:center;font-size:28px;letter-spacing:.12em;margin:8px 0 16px}
ul{padding-left:20px;margin:0 0 14px}li{margin:4px 0}
`

function renderPage(ctx: KoaContext, options: { page: string; title: string; content: string; status?: number; error?: string }): void {
  ctx.status = options.status ?? 200
  ctx.set('Content-Type', 'text/html; charset=utf-8')
  ctx.set('Content-Security-Policy', PAGE_CSP)
  ctx.set('Cache-Control', 'no-store')
  ctx.set('X-Frame-Options', 'DENY')
  const errorAttribute = options.error ? ` data-error="${escapeHtml(options.error)}"` : ''
  ctx.body = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · cli-login demo</title>
<style>${STYLE}</style>
</head>
<body data-page="${escapeHtml(options.page)}"${errorAttribute}>
<main>
<p class="brand">cli-login demo identity provider</p>
${options.content}
</main>
</body>
</html>`
}

function credentialsHint(users: readonly DemoUser[]): string {
  const list = users.map((user) => `<code>${escapeHtml(user.username)}</code> / <code>${escapeHtml(user.password)}</code>`).join(', ')
  return `<p class="hint" id="demo-credentials">Demo accounts: ${list}</p>`
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function stringParam(params: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = params?.[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > MAX_FORM_BYTES) throw new Error('form too large')
    chunks.push(buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

/**
 * Reads a small request body and puts it back into the stream (edited by `edit`, when given, with
 * its new length), so that oidc-provider still parses it itself (it warns when a body was parsed
 * upstream). Undefined when the body cannot be peeked.
 */
function peekBody(req: IncomingMessage, edit?: (body: Buffer) => Buffer | undefined): Promise<Buffer | undefined> {
  const length = Number(req.headers['content-length'])
  if (!Number.isInteger(length) || length <= 0 || length > MAX_FORM_BYTES || !req.readable) {
    return Promise.resolve(undefined)
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onEnd)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      received += chunk.length
      if (received >= length) {
        cleanup()
        req.pause()
        const body = Buffer.concat(chunks)
        const edited = edit?.(body)
        if (edited) req.headers['content-length'] = String(edited.length)
        req.unshift(edited ?? body)
        resolve(edited ?? body)
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve(undefined)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onEnd)
  })
}

function isJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)
}

function loopbackRedirectUris(extra: readonly string[]): string[] {
  const uris = new Set<string>()
  for (const host of LOOPBACK_HOSTS) {
    for (const path of CALLBACK_PATHS) uris.add(`http://${host}${path}`)
  }
  for (let port = REGISTERED_PORTS.first; port < REGISTERED_PORTS.first + REGISTERED_PORTS.count; port++) {
    uris.add(`http://127.0.0.1:${port}/callback`)
    uris.add(`http://localhost:${port}/callback`)
  }
  for (const uri of extra) uris.add(uri)
  return [...uris]
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error)
    server.once('error', onError)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

// ---------------------------------------------------------------------------------------------
// startTestProvider
// ---------------------------------------------------------------------------------------------

/** Starts a provider on 127.0.0.1 and resolves once it listens. Close it with `close()`. */
export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  const accessTokenTtlS = options.accessTokenTtlS ?? 600
  const refreshTokenTtlS = options.refreshTokenTtlS ?? 14 * 24 * 60 * 60
  const deviceCodeTtlS = options.deviceCodeTtlS ?? 600
  const users = options.users ?? DEMO_USERS
  const apiScopes: Record<string, string> = {
    [DEMO_AUDIENCE]: RESOURCE_SERVER_SCOPE,
    [DEMO_SECOND_AUDIENCE]: 'openid offline_access read:invoices',
    ...Object.fromEntries((options.audiences ?? []).map((api) => [api, RESOURCE_SERVER_SCOPE])),
  }
  const audiences = Object.keys(apiScopes)
  const plainOAuth2 = options.discovery === 'oauth2'
  const prefillUser = options.prefillUsername === undefined
    ? undefined
    : users.find((user) => user.username === options.prefillUsername)
  const faults: TestProviderFaults = {}
  const stats: TestProviderStats = {
    requests: {},
    tokenRequests: 0,
    grants: {},
    refreshErrors: 0,
    revocations: 0,
    registrations: 0,
    authorizationRequests: [],
    deviceTokenPolls: [],
  }

  const { Provider, errors } = await importOidcProvider()

  // Keys are generated per start: nothing secret lives in the repository, and no dev-keys notice.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = randomUUID()
  const privateJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, use: 'sig', alg: 'RS256' }
  const publicJwk: JWK = { kty: privateJwk.kty, n: privateJwk.n, e: privateJwk.e, kid, use: 'sig', alg: 'RS256' }
  const localJwks = createLocalJWKSet({ keys: [publicJwk] })

  // The server listens first: the issuer carries its port.
  const app: { handle?: (req: IncomingMessage, res: ServerResponse) => void } = {}
  const requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    if (app.handle) {
      app.handle(req, res)
    } else {
      res.statusCode = 503
      res.end()
    }
  }
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, requestListener)
    : createHttpServer(requestListener)
  const port = await listen(server, options.port ?? 0)
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/`

  const redirectUris = loopbackRedirectUris(options.redirectUris ?? [])
  const clientBase = {
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT],
    response_types: ['code'],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: redirectUris,
  }
  const store = new DemoStore()
  // Access tokens handed out by the token endpoint (JWTs are not stored), so expireTokens() reaches them.
  const issuedAccessTokens = new Set<string>()
  const expiredAccessTokens = new Set<string>()

  function findUser(sub: string): DemoUser | undefined {
    return users.find((user) => user.sub === sub)
  }

  const configuration: Record<string, unknown> = {
    adapter: (model: string) => new DemoAdapter(model, store),
    clients: [
      { ...clientBase, client_id: DEMO_CLIENT_ID, client_name: 'cli-login demo', token_endpoint_auth_method: 'none' },
      {
        ...clientBase,
        client_id: DEMO_CONFIDENTIAL_CLIENT_ID,
        client_name: 'cli-login demo (with secret)',
        client_secret: DEMO_CLIENT_SECRET,
        // oidc-provider accepts client_secret_basic and client_secret_post interchangeably for either.
        token_endpoint_auth_method: 'client_secret_post',
      },
      ...(options.clients ?? []).map((client) => ({
        ...clientBase,
        client_id: client.clientId,
        client_name: client.clientName ?? client.clientId,
        ...(client.clientSecret === undefined
          ? { token_endpoint_auth_method: 'none' }
          : { client_secret: client.clientSecret, token_endpoint_auth_method: 'client_secret_post' }),
      })),
    ],
    clientBasedCORS: () => false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'nickname', 'preferred_username'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    // ID tokens carry the profile and email claims themselves (as Auth0's do).
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Auth0's `audience` parameter, mapped onto a resource indicator by defaultResource below.
    extraParams: ['audience'],
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: options.registration === true, initialAccessToken: false },
      pushedAuthorizationRequests: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource,
        userCodeConfirmSource,
        successSource: deviceSuccessSource,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx: KoaContext, _client: unknown, oneOf?: string[]) => {
          // The code exchange of a login granted several APIs: its token is for the first, the one asked.
          if (oneOf) return oneOf[0]
          const audience = stringParam(ctx.oidc?.params, 'audience')
          // A login for one known API is granted the others too (multi-resource refresh tokens).
          if (audience && apiScopes[audience]) return [audience, ...audiences.filter((api) => api !== audience)]
          return audience
        },
        // Tokens from the code, the device code and refresh tokens stay for the requested API.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
          const scope = apiScopes[resourceIndicator]
          if (!scope) throw new errors.InvalidTarget(`unknown API (audience): ${resourceIndicator}`)
          return {
            scope,
            audience: resourceIndicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtlS,
            jwt: { sign: { alg: 'RS256' } },
          }
        },
      },
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = findUser(sub)
      if (!user) return undefined
      return {
        accountId: user.sub,
        claims: async () => ({
          sub: user.sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          nickname: user.username,
          preferred_username: user.username,
        }),
      }
    },
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    jwks: { keys: [privateJwk] },
    pkce: { required: () => true },
    renderError,
    responseTypes: ['code'],
    rotateRefreshToken: true,
    routes: ROUTES,
    ttl: {
      AccessToken: accessTokenTtlS,
      AuthorizationCode: 60,
      BackchannelAuthenticationRequest: 600,
      ClientCredentials: accessTokenTtlS,
      DeviceCode: deviceCodeTtlS,
      Grant: Math.max(refreshTokenTtlS, 14 * 24 * 60 * 60),
      IdToken: 3600,
      Interaction: 3600,
      PreAuthorizedCode: 600,
      RefreshToken: refreshTokenTtlS,
      Session: 14 * 24 * 60 * 60,
    },
  }

  // --- pages rendered by oidc-provider through configuration helpers --------------------------

  async function renderError(ctx: KoaContext, out: { error?: string; error_description?: string }): Promise<void> {
    renderPage(ctx, {
      page: 'error',
      title: 'Something went wrong',
      status: ctx.status,
      error: out.error,
      content: `<h1>Something went wrong</h1>
<p class="error" id="error"><strong>${escapeHtml(out.error)}</strong>${out.error_description ? `: ${escapeHtml(out.error_description)}` : ''}</p>
<p>Go back to your terminal and start the login again.</p>`,
    })
  }

  function hiddenFormValue(form: string, name: string): string | undefined {
    return new RegExp(`name="${name}" value="([^"]*)"`).exec(form)?.[1]
  }

  function formAction(form: string): string | undefined {
    return /action="([^"]*)"/.exec(form)?.[1]
  }

  async function userCodeInputSource(
    ctx: KoaContext,
    form: string,
    out?: { error?: string; error_description?: string },
    err?: Error & { userCode?: string },
  ): Promise<void> {
    let message = '<p>Enter the code shown in your terminal.</p>'
    if (err && (err.userCode || err.name === 'NoCodeError')) {
      message = '<p class="error" id="error">That code is not valid or has expired. Check it and try again.</p>'
    } else if (err && err.name === 'AbortedError') {
      message = '<p class="error" id="error">The device login was cancelled. You can close this window.</p>'
    } else if (out?.error === 'access_denied') {
      message = '<p class="error" id="error">The device login was denied. You can close this window.</p>'
    } else if (out?.error) {
      message = `<p class="error" id="error">${escapeHtml(out.error_description ?? out.error)}</p>`
    }
    const xsrf = hiddenFormValue(form, 'xsrf')
    const action = formAction(form)
    const formHtml = xsrf !== undefined && action !== undefined
      ? `<form id="user-code-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<label for="user-code">Code</label>
<input type="text" id="user-code" name="user_code" placeholder="XXXX-XXXX" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus>
<div class="actions"><button type="submit" id="continue" class="primary">Continue</button></div>
</form>`
      : `${form}<div class="actions"><button type="submit" id="continue" class="primary" form="op.deviceInputForm">Continue</button></div>`
    renderPage(ctx, {
      page: 'user-code',
      title: 'Connect a device',
      status: ctx.status || 200,
      error: out?.error ?? (err ? err.name : undefined),
      content: `<h1>Connect a device</h1>${message}${formHtml}`,
    })
  }

  async function userCodeConfirmSource(
    ctx: KoaContext,
    form: string,
    client: { clientId: string; clientName?: string },
    _deviceInfo: unknown,
    userCode: string,
  ): Promise<void> {
    const xsrf = hiddenFormValue(form, 'xsrf') ?? ''
    const action = formAction(form) ?? ROUTES.code_verification
    renderPage(ctx, {
      page: 'device-confirm',
      title: 'Confirm the device',
      content: `<h1>Confirm the device</h1>
<p><strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> wants to sign in on a device.</p>
<p>Check that your terminal shows this code:</p>
<span class="code" id="device-user-code">${escapeHtml(userCode)}</span>
<form id="device-confirm-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">
<div class="actions">
<button type="submit" id="confirm" name="confirm" value="yes" class="primary" autofocus>Continue</button>
<button type="submit" id="abort" name="abort" value="yes">Cancel</button>
</div>
</form>
<p class="hint">If you did not start this login, or the code does not match, press Cancel.</p>`,
    })
  }

  async function deviceSuccessSource(ctx: KoaContext): Promise<void> {
    const client = ctx.oidc?.client
    renderPage(ctx, {
      page: 'device-success',
      title: 'Device connected',
      content: `<h1 id="device-success">Device connected</h1>
<p>You signed in${client ? ` to <strong>${escapeHtml(client.clientName ?? client.clientId)}</strong>` : ''}. You can close this window and go back to your terminal.</p>`,
    })
  }

  async function logoutSource(ctx: KoaContext, form: string): Promise<void> {
    const xsrf = hiddenFormValue(form, 'xsrf') ?? ''
    const action = formAction(form) ?? `${ROUTES.end_session}/confirm`
    renderPage(ctx, {
      page: 'logout',
      title: 'Sign out',
      content: `<h1>Sign out?</h1>
<p>Do you want to sign out of the demo identity provider?</p>
<form id="logout-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<div class="actions">
<button type="submit" id="logout" name="logout" value="yes" class="primary" autofocus>Sign out</button>
<button type="submit" id="stay">Stay signed in</button>
</div>
</form>`,
    })
  }

  async function postLogoutSuccessSource(ctx: KoaContext): Promise<void> {
    renderPage(ctx, {
      page: 'logout-success',
      title: 'Signed out',
      content: '<h1 id="logout-success">Signed out</h1><p>You are signed out of the demo identity provider. You can close this window.</p>',
    })
  }

  // --- interaction pages (sign-in, consent) ---------------------------------------------------

  function signInPage(ctx: KoaContext, details: InteractionDetails, clientName: string, failure?: { username: string }): void {
    const hinted = stringParam(details.params, 'login_hint')
    const username = failure?.username ?? prefillUser?.username ?? hinted ?? ''
    const password = failure ? '' : (prefillUser?.password ?? '')
    renderPage(ctx, {
      page: 'sign-in',
      title: 'Sign in',
      error: failure ? 'invalid_credentials' : undefined,
      content: `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientName)}</strong></p>
${failure ? '<p class="error" id="error">Wrong username or password. Try again.</p>' : ''}
<form id="sign-in-form" method="post" action="/interaction/${escapeHtml(details.uid)}/login" autocomplete="off">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" required${username ? '' : ' autofocus'}>
<label for="password">Password</label>
<input type="password" id="password" name="password" value="${escapeHtml(password)}" autocomplete="current-password" required${username ? ' autofocus' : ''}>
<div class="actions">
<button type="submit" id="sign-in" name="action" value="sign-in" class="primary">Sign in</button>
<button type="submit" id="cancel" name="action" value="cancel" formnovalidate>Cancel</button>
</div>
</form>
${credentialsHint(users)}`,
    })
  }

  function consentPage(ctx: KoaContext, details: InteractionDetails, clientName: string): void {
    const user = details.session?.accountId ? findUser(details.session.accountId) : undefined
    const requested = (stringParam(details.params, 'scope') ?? '').split(' ').filter(Boolean)
    const resource = stringParam(details.params, 'resource') ?? stringParam(details.params, 'audience')
    const items = requested.map((scope) => `<li>${escapeHtml(SCOPE_DESCRIPTIONS[scope] ?? scope)}</li>`)
    if (resource) items.push(`<li>Call the API <code>${escapeHtml(resource)}</code> as you</li>`)
    renderPage(ctx, {
      page: 'consent',
      title: 'Allow access',
      content: `<h1>Allow access?</h1>
<p><strong>${escapeHtml(clientName)}</strong> wants to${user ? ` use your account <strong>${escapeHtml(user.email)}</strong> to` : ''}:</p>
<ul id="scopes">${items.join('') || '<li>Sign you in</li>'}</ul>
<form id="consent-form" method="post" action="/interaction/${escapeHtml(details.uid)}/confirm">
<div class="actions">
<button type="submit" id="allow" name="action" value="allow" class="primary" autofocus>Allow</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</div>
</form>`,
    })
  }

  function interactionErrorPage(ctx: KoaContext, error: unknown): void {
    const name = error instanceof Error ? error.name : ''
    const expired = name === 'SessionNotFound'
    renderPage(ctx, {
      page: 'error',
      title: 'Sign-in expired',
      status: 400,
      error: expired ? 'invalid_request' : 'server_error',
      content: `<h1>This sign-in cannot continue</h1>
<p class="error" id="error">${expired
        ? 'This sign-in page has expired or was already used.'
        : 'The sign-in could not be processed.'}</p>
<p>Go back to your terminal and start the login again.</p>`,
    })
  }

  async function clientNameOf(details: InteractionDetails): Promise<string> {
    const clientId = stringParam(details.params, 'client_id') ?? ''
    const client = clientId ? await provider.Client.find(clientId) : undefined
    return client?.clientName ?? clientId
  }

  async function finish(ctx: KoaContext, result: Record<string, unknown>, mergeWithLastSubmission: boolean): Promise<void> {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission })
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(returnTo)
  }

  async function handleInteraction(ctx: KoaContext, uid: string, step: string | undefined): Promise<void> {
    let details: InteractionDetails
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res)
    } catch (error) {
      interactionErrorPage(ctx, error)
      return
    }
    if (details.uid !== uid) {
      interactionErrorPage(ctx, Object.assign(new Error('interaction mismatch'), { name: 'SessionNotFound' }))
      return
    }
    const clientName = await clientNameOf(details)

    if (step === undefined) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx)
      if (details.prompt.name === 'login') return signInPage(ctx, details, clientName)
      if (details.prompt.name === 'consent') return consentPage(ctx, details, clientName)
      return interactionErrorPage(ctx, new Error(`unsupported prompt ${details.prompt.name}`))
    }

    if (ctx.method !== 'POST') return methodNotAllowed(ctx)
    const form = await readForm(ctx.req)

    if (step === 'login' && details.prompt.name === 'login') {
      if (form.get('action') === 'cancel') {
        await finish(ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in' }, false)
        return
      }
      const username = (form.get('username') ?? '').trim()
      const password = form.get('password') ?? ''
      const user = users.find((candidate) => (candidate.username === username || candidate.email === username)
        && candidate.password === password)
      if (!user) {
        signInPage(ctx, details, clientName, { username })
        return
      }
      await finish(ctx, { login: { accountId: user.sub } }, false)
      return
    }

    if (step === 'confirm' && details.prompt.name === 'consent') {
      if (form.get('action') !== 'allow') {
        await finish(ctx, { error: 'access_denied', error_description: 'The user denied access' }, false)
        return
      }
      const accountId = details.session?.accountId
      const clientId = stringParam(details.params, 'client_id')
      if (!accountId || !clientId) {
        interactionErrorPage(ctx, new Error('consent without a signed-in user'))
        return
      }
      const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined)
        ?? new provider.Grant({ accountId, clientId })
      const promptDetails = details.prompt.details as {
        missingOIDCScope?: string[]
        missingOIDCClaims?: string[]
        missingResourceScopes?: Record<string, string[]>
      }
      if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '))
      if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims)
      for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '))
      }
      const grantId = await grant.save()
      await finish(ctx, { consent: details.grantId ? {} : { grantId } }, true)
      return
    }

    interactionErrorPage(ctx, new Error(`unexpected ${step} for prompt ${details.prompt.name}`))
  }

  function methodNotAllowed(ctx: KoaContext): void {
    ctx.status = 405
    ctx.body = 'Method Not Allowed'
  }

  // --- the example API ------------------------------------------------------------------------

  async function verifyAccessToken(token: string): Promise<TokenIdentity | undefined> {
    if (typeof token !== 'string' || token === '' || expiredAccessTokens.has(token)) return undefined
    if (isJwt(token)) {
      try {
        const { payload } = await jwtVerify(token, localJwks, {
          issuer,
          audience: audiences,
          typ: 'at+jwt',
          algorithms: ['RS256'],
        })
        if (typeof payload.sub !== 'string') return undefined
        return {
          sub: payload.sub,
          aud: payload.aud,
          ...(typeof payload.scope === 'string' ? { scope: payload.scope } : {}),
        }
      } catch {
        return undefined
      }
    }
    try {
      const accessToken = await provider.AccessToken.find(token)
      if (!accessToken || accessToken.isExpired || !accessToken.accountId) return undefined
      return {
        sub: accessToken.accountId,
        ...(accessToken.aud === undefined ? {} : { aud: accessToken.aud }),
        ...(accessToken.scope === undefined ? {} : { scope: accessToken.scope }),
      }
    } catch {
      return undefined
    }
  }

  /**
   * Auth0 answers /userinfo for an access token issued for an API (`audience`) when `openid` was
   * granted with it (its `aud` names the userinfo endpoint too); oidc-provider only takes tokens
   * without a resource there. So such JWTs are answered here, with the claims their scope allows.
   */
  async function handleUserinfoForApiToken(ctx: KoaContext): Promise<boolean> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))
    if (!match || !isJwt(match[1])) return false
    const identity = await verifyAccessToken(match[1])
    const user = identity ? findUser(identity.sub) : undefined
    const scopes = (identity?.scope ?? '').split(' ')
    if (!user || !scopes.includes('openid')) return false
    ctx.set('Cache-Control', 'no-store')
    ctx.body = {
      sub: user.sub,
      ...(scopes.includes('profile') ? { name: user.name, nickname: user.username, preferred_username: user.username } : {}),
      ...(scopes.includes('email') ? { email: user.email, email_verified: true } : {}),
    }
    return true
  }

  async function handleApiMe(ctx: KoaContext): Promise<void> {
    ctx.set('Cache-Control', 'no-store')
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405
      ctx.body = { error: 'method_not_allowed' }
      return
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))
    const identity = match ? await verifyAccessToken(match[1]) : undefined
    const user = identity ? findUser(identity.sub) : undefined
    if (!user) {
      ctx.status = 401
      ctx.set('WWW-Authenticate', 'Bearer realm="cli-login demo API", error="invalid_token"')
      ctx.body = { error: 'invalid_token' }
      return
    }
    ctx.body = { sub: user.sub, name: user.name, email: user.email }
  }

  // --- the provider ---------------------------------------------------------------------------

  let provider: ProviderInstance
  try {
    provider = new Provider(issuer, configuration)
  } catch (error) {
    server.closeAllConnections()
    server.close()
    throw error
  }
  // Koa prints unhandled errors unless the application has an error listener: the demo stays quiet,
  // except with CLI_LOGIN_DEBUG=1, when server errors go to stderr.
  const debug = /^(1|true|yes)$/i.test(process.env.CLI_LOGIN_DEBUG ?? '')
  const reportServerError = (...args: unknown[]): void => {
    const error = args.find((arg) => arg instanceof Error)
    if (debug && error) console.error('cli-login demo provider:', error)
  }
  provider.on('error', reportServerError)
  provider.on('server_error', reportServerError)

  provider.on('grant.success', (...args: unknown[]) => {
    const ctx = args[0] as KoaContext
    const grantType = stringParam(ctx.oidc?.params, 'grant_type')
    if (!grantType) return
    stats.grants[grantType] = (stats.grants[grantType] ?? 0) + 1
    if (grantType === DEVICE_CODE_GRANT) stats.deviceTokenPolls.push(Date.now())
  })
  provider.on('registration_create.success', () => {
    stats.registrations += 1
  })
  provider.on('grant.error', (...args: unknown[]) => {
    const ctx = args[0] as KoaContext
    const grantType = stringParam(ctx.oidc?.params, 'grant_type')
    if (grantType === 'refresh_token') stats.refreshErrors += 1
    if (grantType === DEVICE_CODE_GRANT) stats.deviceTokenPolls.push(Date.now())
  })

  provider.use(async (ctx, next) => {
    const { path, method } = ctx
    const requestKey = `${method} ${path}`
    stats.requests[requestKey] = (stats.requests[requestKey] ?? 0) + 1

    // RFC 8414 metadata: the discovery document under its OAuth 2 name; a plain OAuth 2 server has
    // nothing OpenID in it and no OpenID discovery at all.
    if (path === '/.well-known/oauth-authorization-server' && (method === 'GET' || method === 'HEAD')) {
      ctx.path = '/.well-known/openid-configuration'
      await next()
      const body = ctx.body as Record<string, unknown> | undefined
      if (plainOAuth2 && body && typeof body === 'object') {
        for (const key of OIDC_ONLY_METADATA) delete body[key]
        if (Array.isArray(body.scopes_supported)) body.scopes_supported = body.scopes_supported.filter((s) => !OIDC_SCOPES.includes(String(s)))
      }
      return
    }
    if (plainOAuth2 && path === '/.well-known/openid-configuration') {
      ctx.status = 404
      ctx.body = { error: 'not_found' }
      return
    }

    if (path === ROUTES.authorization && method === 'GET') {
      stats.authorizationRequests.push(new URLSearchParams(ctx.querystring))
      // Auth0 issues a refresh token whenever offline_access is asked for; oidc-provider follows
      // OpenID Connect strictly and drops offline_access unless prompt includes `consent`. Native
      // clients are shown the consent page on every authorization anyway, so asking for it changes
      // nothing for the user. (stats above keep the query as the client sent it.)
      const query = new URLSearchParams(ctx.querystring)
      const scopes = (query.get('scope') ?? '').split(' ')
      const prompts = (query.get('prompt') ?? '').split(' ').filter(Boolean)
      if (scopes.includes('offline_access') && !prompts.includes('consent') && !prompts.includes('none')) {
        query.set('prompt', [...prompts, 'consent'].join(' '))
        ctx.querystring = query.toString()
      }
    }

    if (path === ROUTES.jwks && method === 'GET' && faults.jwks) {
      const fault = faults.jwks
      if ((fault.times ?? 1) <= 1) delete faults.jwks
      else fault.times = (fault.times ?? 1) - 1
      if (fault.delayMs) await sleep(fault.delayMs)
      if (fault.status === undefined) return next()
      ctx.status = fault.status
      ctx.body = {}
      return
    }

    if (path === ROUTES.token && method === 'POST') {
      stats.tokenRequests += 1
      if (faults.tokenEndpointDelayMs) await sleep(faults.tokenEndpointDelayMs)
      const fault = faults.tokenEndpoint
      if (fault) {
        if (fault.times !== undefined && --fault.times <= 0) delete faults.tokenEndpoint
        ctx.status = fault.status
        ctx.set('Content-Type', fault.contentType ?? 'application/json')
        ctx.set('Cache-Control', 'no-store')
        ctx.body = fault.body
        return
      }
      // Auth0 spells RFC 8707's `resource` as `audience`, on refresh requests too. (The body is
      // peeked once: oidc-provider parses it itself.)
      const body = await peekBody(ctx.req, (raw) => {
        const form = new URLSearchParams(raw.toString('utf8'))
        const audience = form.get('audience')
        if (form.get('grant_type') !== 'refresh_token' || audience === null) return undefined
        form.delete('audience')
        if (!faults.ignoreRefreshAudience && !form.has('resource')) form.set('resource', audience)
        return Buffer.from(form.toString(), 'utf8')
      })
      if ((faults.deviceSlowDown ?? 0) > 0) {
        if (body && new URLSearchParams(body.toString('utf8')).get('grant_type') === DEVICE_CODE_GRANT) {
          faults.deviceSlowDown = (faults.deviceSlowDown ?? 1) - 1
          stats.deviceTokenPolls.push(Date.now())
          ctx.status = 400
          ctx.set('Cache-Control', 'no-store')
          ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off' }
          return
        }
      }
      await next()
      if (plainOAuth2 && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') delete (ctx.body as Record<string, unknown>).id_token
      const issued = ctx.status === 200 ? (ctx.body as { access_token?: unknown } | undefined)?.access_token : undefined
      if (typeof issued === 'string') issuedAccessTokens.add(issued)
      if (ctx.status === 200 && faults.tokenAnswerDelayMs) await sleep(faults.tokenAnswerDelayMs)
      return
    }

    if (path === ROUTES.userinfo && (method === 'GET' || method === 'POST') && await handleUserinfoForApiToken(ctx)) return

    if (path === '/api/me') {
      await handleApiMe(ctx)
      return
    }

    const interaction = /^\/interaction\/([^/]+)(?:\/(login|confirm))?\/?$/.exec(path)
    if (interaction) {
      await handleInteraction(ctx, interaction[1], interaction[2])
      return
    }

    await next()

    if (path === ROUTES.revocation && method === 'POST' && ctx.status === 200) {
      stats.revocations += 1
    }

    if (path === ROUTES.device_authorization && method === 'POST' && ctx.status === 200) {
      const body = ctx.body as Record<string, unknown> | undefined
      if (body && typeof body === 'object' && 'device_code' in body && body.interval === undefined) {
        body.interval = DEVICE_INTERVAL_S
      }
    }

    if (faults.authorizationResponseIss !== undefined
      && (path === ROUTES.authorization || path.startsWith(`${ROUTES.authorization}/`))) {
      const location = ctx.response.get('location')
      const ownOrigin = `${ctx.protocol}://${ctx.host}`
      const target = location ? URL.parse(location, ownOrigin) : null
      if (target && target.origin !== ownOrigin && target.searchParams.has('iss')) {
        target.searchParams.set('iss', faults.authorizationResponseIss)
        ctx.set('Location', target.href)
      }
    }
  })

  app.handle = provider.callback()

  function revokeGrants(user: string): number {
    const sub = users.find((candidate) => candidate.sub === user || candidate.username === user)?.sub ?? user
    let revoked = 0
    for (const [key, entry] of [...store.entries]) {
      if (!key.startsWith('Grant:') || entry.payload.accountId !== sub) continue
      const grantId = key.slice('Grant:'.length)
      for (const member of store.grantMembers.get(grantId) ?? []) store.entries.delete(member)
      store.grantMembers.delete(grantId)
      store.entries.delete(key)
      revoked += 1
    }
    return revoked
  }

  function expireTokens(expireOptions: { refreshTokens?: boolean } = {}): void {
    for (const token of issuedAccessTokens) expiredAccessTokens.add(token)
    issuedAccessTokens.clear()
    for (const key of [...store.entries.keys()]) {
      if (key.startsWith('AccessToken:') || (expireOptions.refreshTokens === true && key.startsWith('RefreshToken:'))) {
        store.entries.delete(key)
      }
    }
  }

  function addResourceServer(identifier: string, resourceOptions: ResourceServerOptions = {}): void {
    apiScopes[identifier] = resourceOptions.scope ?? 'read:me'
    if (!audiences.includes(identifier)) audiences.push(identifier)
  }

  function forgetClient(clientId: string): boolean {
    return store.entries.delete(`Client:${clientId}`)
  }

  let closing: Promise<void> | undefined
  return {
    issuer,
    port,
    users,
    faults,
    stats,
    verifyAccessToken,
    revokeGrants,
    expireTokens,
    addResourceServer,
    forgetClient,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}
