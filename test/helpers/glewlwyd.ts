/**
 * A private glewlwyd (Debian's package, 2.7.5: a C OpenID provider nobody here wrote) for tests.
 *
 * startGlewlwyd() makes a temp dir with its own config file, an sqlite database initialised from the
 * package's schema, a copy of the package's web app (login page) and a fresh RSA signing key, starts
 * /usr/bin/glewlwyd bound to 127.0.0.1 on a free random port, and then, through the admin REST API
 * (signed in as the schema's admin/password), sets up: the scopes `openid` (now needing the password),
 * `profile` and `email`; a test user; the OpenID Connect plugin `oidc` (issuer
 * http://127.0.0.1:<port>/api/oidc); and a PUBLIC client (no secret) whose redirect URIs are
 * http://127.0.0.1:<p>/callback for every p of `redirectPorts`. The system-wide config
 * (/etc/glewlwyd) and service are never read or touched. Install it with scripts/ci/install-glewlwyd.sh.
 *
 * Start-up takes about 0.25-0.4 s here (2 shared cores); `startMs` on the result says how long it took.
 *
 * What glewlwyd 2.7.5 does, as seen by a CLI OAuth client (found with test/integration/glewlwyd-smoke.test.ts):
 * - Discovery: GET <issuer>/.well-known/openid-configuration. Plain http on loopback: openid-client
 *   needs allowInsecureRequests. `token_endpoint_auth_methods_supported` does NOT list `none` and
 *   `grant_types_supported` lists neither `refresh_token` nor… only authorization_code, implicit and
 *   the device_code grant — but a public client (confidential=false) with no authentication works at
 *   the token endpoint. `revocation_endpoint_auth_methods_supported` is ["client_secret_basic"] only.
 *   `code_challenge_methods_supported`: ["S256"] (plain is off). `end_session_endpoint` and
 *   `device_authorization_endpoint` are present (session management and device grant switched on below).
 * - Authorization: /auth redirects to /login.html?…&callback_url=<the /auth URL> (the React web app).
 *   An `openid` request WITHOUT `nonce` is refused — after the user signed in: see NONCE below.
 *   Scopes glewlwyd does not know (e.g. `offline_access`, unless created) are dropped silently from
 *   the grant and from the token response's `scope`. The user must hold a scope in their profile to
 *   get it, and must grant each scope to the client once (consent page, checkbox per scope; `openid`
 *   is pre-checked); the grant is remembered server-side per user and client.
 * - Refresh tokens come back on the code (and device) grant WITHOUT `offline_access`. With
 *   "refresh-token-one-use": "always" each refresh returns a new refresh token and disables the old.
 * - See the smoke test's records (REFRESH_REUSE, REVOKE_PUBLIC, NONCE, CLAIMS, …) copied below once
 *   measured.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { generateKeyPair } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findFreePortRange } from './ports.ts'

const BINARY_CANDIDATES = ['/usr/bin/glewlwyd', '/usr/sbin/glewlwyd']
const SCHEMA = '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3'
const WEBAPP = '/usr/share/glewlwyd/webapp'
/** The web app's config.json: Debian's webapp/config.json is a symlink to the DIRECTORY /etc/glewlwyd/config-2.7.json; this is the file. */
const WEBAPP_CONFIG_CANDIDATES = ['/usr/share/glewlwyd/templates/config.json', '/etc/glewlwyd/config-2.7.json/config.json']
const MODULE_DIR = '/usr/lib/glewlwyd'
/** The sqlite schema shipped with the package creates this administrator. */
const ADMIN = { username: 'admin', password: 'password' }
const PLUGIN_NAME = 'oidc'
const READY_TIMEOUT_MS = 10_000

/** The glewlwyd binary, or undefined when it is not installed (GLEWLWYD_BIN overrides). */
export function glewlwydBinary(): string | undefined {
  const fromEnv = process.env.GLEWLWYD_BIN
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined
  return BINARY_CANDIDATES.find((candidate) => existsSync(candidate))
}

export interface GlewlwydUser {
  username: string
  password: string
  name: string
  email: string
}

export interface StartGlewlwydOptions {
  /** The callback ports to register: http://127.0.0.1:<first..first+count-1>/callback. Default 4242, 50 ports (cli-login's defaults). */
  redirectPorts?: { first: number; count: number }
  /** Path of the callback on those ports. Default '/callback'. */
  redirectPath?: string
  clientId?: string
  user?: Partial<GlewlwydUser>
  /** Seconds. glewlwyd's defaults: access token 3600, refresh token 1209600 (14 days), code 600. */
  accessTokenDuration?: number
  refreshTokenDuration?: number
  codeDuration?: number
  /** "always" (default here: one-use refresh tokens, rotated on every refresh), "never" or "client-driven". */
  refreshTokenOneUse?: 'always' | 'never' | 'client-driven'
  /** Device flow: code lifetime (s, default 600) and the polling interval it announces (s, default 5). */
  deviceExpiration?: number
  deviceInterval?: number
  /** Name/email claims: 'on-demand' (default: in the ID token and userinfo when scope profile / email was granted), 'mandatory' or 'no'. */
  nameClaim?: 'no' | 'on-demand' | 'mandatory'
  emailClaim?: 'no' | 'on-demand' | 'mandatory'
  /** Also create an `offline_access` scope (held by the user). Default false: glewlwyd then drops it from requests silently. */
  offlineAccessScope?: boolean
  /**
   * The client's allowed post_logout_redirect_uri values for end session. glewlwyd's end_session
   * checks the client property `post_logout_redirect_uris` (an array), which the database client
   * module does not store out of the box (its data-format has a single `post_logout_redirect_uri`,
   * which end_session ignores): the harness adds the property to the module's data-format first.
   * An unregistered post_logout_redirect_uri is ignored silently (end session still works, no redirect).
   */
  postLogoutRedirectUris?: string[]
  /** Extra OIDC plugin parameters, merged last. */
  pluginParameters?: Record<string, unknown>
  /** glewlwyd log level (NONE, ERROR, WARNING, INFO, DEBUG). Default WARNING. Its output is kept in `log()`. */
  logLevel?: 'NONE' | 'ERROR' | 'WARNING' | 'INFO' | 'DEBUG'
}

export interface Glewlwyd {
  /** http://127.0.0.1:<port> */
  baseUrl: string
  port: number
  /** http://127.0.0.1:<port>/api/oidc — discovery at issuer + '/.well-known/openid-configuration'. */
  issuer: string
  clientId: string
  redirectUris: string[]
  user: GlewlwydUser
  /** Cookie header value of the admin session (scope g_admin). */
  adminCookie: string
  /** The temp dir (config, db, key, web app). Removed by stop(). */
  dir: string
  /** How long startGlewlwyd took, in ms. */
  startMs: number
  /** A call to the admin API (path relative to /api, e.g. '/user/alice'); returns status and parsed body (text when not JSON). */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>
  /** Changes OIDC plugin parameters and applies them (PUT /api/mod/plugin/oidc, then …/reset: changes apply only after reset). */
  updatePlugin(parameters: Record<string, unknown>): Promise<void>
  /** glewlwyd's console output so far. */
  log(): string
  stop(): Promise<void>
}

/** Starts a private glewlwyd on 127.0.0.1 and configures it over its admin API. Throws when the binary is missing. */
export async function startGlewlwyd(options: StartGlewlwydOptions = {}): Promise<Glewlwyd> {
  const started = performance.now()
  const binary = glewlwydBinary()
  if (!binary) throw new Error('glewlwyd is not installed (run scripts/ci/install-glewlwyd.sh)')
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-glewlwyd-'))
  let child: ChildProcess | undefined
  let output = ''
  const stop = async (): Promise<void> => {
    if (child) await stopChild(child)
    child = undefined
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const [keys] = await Promise.all([
      rsaKeyPair(),
      initDatabase(join(dir, 'glewlwyd.db')),
      copyWebApp(join(dir, 'webapp')),
    ])
    await writeFile(join(dir, 'signing-key.pem'), keys.privateKey, { mode: 0o600 })

    // The port is free when probed; glewlwyd may still lose it to someone else: retry a few times.
    let port = 0
    for (let attempt = 0; ; attempt++) {
      port = await findFreePortRange(1)
      await writeFile(join(dir, 'glewlwyd.conf'), configFile(dir, port, options.logLevel ?? 'WARNING'))
      output = ''
      child = spawn(binary, ['-c', join(dir, 'glewlwyd.conf')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout?.setEncoding('utf8').on('data', (text: string) => (output += text))
      child.stderr?.setEncoding('utf8').on('data', (text: string) => (output += text))
      const ready = await waitUntilReady(child, `http://127.0.0.1:${port}/config`)
      if (ready) break
      await stopChild(child)
      child = undefined
      if (attempt >= 2) throw new Error(`glewlwyd did not start on 127.0.0.1:${port}:\n${output}`)
    }

    const baseUrl = `http://127.0.0.1:${port}`
    const issuer = `${baseUrl}/api/${PLUGIN_NAME}`
    const adminCookie = await signInAdmin(baseUrl)
    const admin = adminApi(baseUrl, adminCookie)
    const must = async (method: string, path: string, body?: unknown): Promise<unknown> => {
      const answer = await admin(method, path, body)
      if (answer.status !== 200) throw new Error(`glewlwyd admin ${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`)
      return answer.body
    }

    // Scopes. `openid` comes from the schema with password_required=false and no scheme: a scope must
    // need some authentication for the login page to ask for the password.
    await must('PUT', '/scope/openid', scope('openid', 'Open ID', 'Sign in with OpenID Connect'))
    await must('POST', '/scope/', scope('profile', 'Profile', 'Your name'))
    await must('POST', '/scope/', scope('email', 'E-mail', 'Your e-mail address'))
    const userScopes = ['openid', 'profile', 'email']
    if (options.offlineAccessScope) {
      await must('POST', '/scope/', scope('offline_access', 'Offline access', 'Stay signed in'))
      userScopes.push('offline_access')
    }

    const user: GlewlwydUser = {
      username: 'alice',
      password: 'alice-password-1',
      name: 'Alice Glewlwyd',
      email: 'alice@glewlwyd.test',
      ...options.user,
    }
    await must('POST', '/user/', { ...user, enabled: true, scope: userScopes })

    const parameters = pluginParameters(issuer, keys, options)
    await must('POST', '/mod/plugin/', { module: 'oidc', name: PLUGIN_NAME, display_name: 'OpenID Connect', enabled: true, parameters })

    const ports = options.redirectPorts ?? { first: 4242, count: 50 }
    const redirectPath = options.redirectPath ?? '/callback'
    const redirectUris = Array.from({ length: ports.count }, (_, i) => `http://127.0.0.1:${ports.first + i}${redirectPath}`)
    const clientId = options.clientId ?? 'cli-login-test'
    if (options.postLogoutRedirectUris) {
      const module = (await must('GET', '/mod/client/database')) as { parameters: { 'data-format': Record<string, unknown> } } & Record<string, unknown>
      module.parameters['data-format'].post_logout_redirect_uris = { multiple: true, read: true, write: true }
      await must('PUT', '/mod/client/database', module)
      await must('PUT', '/mod/client/database/reset') // like plugins: module changes apply after reset
    }
    await must('POST', '/client/', {
      client_id: clientId,
      name: 'cli-login tests',
      description: 'public client of the cli-login test suite',
      enabled: true,
      confidential: false,
      scope: [],
      redirect_uri: redirectUris,
      // device_authorization: the device grant; refresh_token: refreshes; delete_token: revocation by the client.
      authorization_type: ['code', 'refresh_token', 'device_authorization', 'delete_token'],
      ...(options.postLogoutRedirectUris ? { post_logout_redirect_uris: options.postLogoutRedirectUris } : {}),
    })

    const startMs = Math.round(performance.now() - started)
    return {
      baseUrl,
      port,
      issuer,
      clientId,
      redirectUris,
      user,
      adminCookie,
      dir,
      startMs,
      admin,
      async updatePlugin(changes) {
        const current = (await must('GET', `/mod/plugin/${PLUGIN_NAME}`)) as { display_name: string; parameters: Record<string, unknown> }
        await must('PUT', `/mod/plugin/${PLUGIN_NAME}`, {
          module: 'oidc',
          name: PLUGIN_NAME,
          display_name: current.display_name,
          enabled: true,
          parameters: { ...current.parameters, ...changes },
        })
        await must('PUT', `/mod/plugin/${PLUGIN_NAME}/reset`)
      },
      log: () => output,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

function scope(name: string, displayName: string, description: string): Record<string, unknown> {
  return { name, display_name: displayName, description, password_required: true, password_max_age: 0, scheme: {} }
}

/**
 * The OIDC plugin's parameters (keys as the admin web app sends them). The plugin refuses to start
 * without session-cookie-name / session-cookie-expiration; a refused POST still leaves the instance
 * behind ("A module instance with this name already exist" on the next POST): DELETE it first.
 */
function pluginParameters(issuer: string, keys: { privateKey: string; publicKey: string }, options: StartGlewlwydOptions): Record<string, unknown> {
  return {
    iss: issuer,
    'jwt-type': 'rsa', // RS256 for ID and access tokens (JWTs), key below; JWKS at <issuer>/jwks
    'jwt-key-size': '256',
    key: keys.privateKey,
    cert: keys.publicKey,
    'jwks-show': true,
    'secret-type': 'public', // `sub` is the same for every client (pairwise is the plugin's default)
    'access-token-duration': options.accessTokenDuration ?? 3600,
    'refresh-token-duration': options.refreshTokenDuration ?? 1209600,
    'code-duration': options.codeDuration ?? 600,
    'refresh-token-rolling': true,
    'refresh-token-one-use': options.refreshTokenOneUse ?? 'always',
    'client-refresh-token-one-use-parameter': 'refresh-token-one-use',
    'allow-non-oidc': false,
    'auth-type-code-enabled': true,
    'auth-type-code-revoke-replayed': false,
    'auth-type-token-enabled': false,
    'auth-type-id-token-enabled': true,
    'auth-type-none-enabled': true,
    'auth-type-password-enabled': false,
    'auth-type-client-enabled': false,
    'auth-type-device-enabled': true,
    'auth-type-refresh-enabled': true,
    'pkce-allowed': true,
    'pkce-method-plain-allowed': false,
    'pkce-required': false,
    'introspection-revocation-allowed': true,
    'introspection-revocation-auth-scope': [],
    'introspection-revocation-allow-target-client': true,
    'session-management-allowed': true, // end_session_endpoint
    'session-cookie-name': 'GLEWLWYD2_OIDC_SID',
    'session-cookie-expiration': 2419200,
    'front-channel-logout-allowed': true,
    'back-channel-logout-allowed': false,
    'name-claim': options.nameClaim ?? 'on-demand',
    'name-claim-scope': ['profile'],
    'email-claim': options.emailClaim ?? 'on-demand',
    'email-claim-scope': ['email'],
    'scope-claim': 'no',
    'allowed-scope': ['openid', 'profile', 'email', ...(options.offlineAccessScope ? ['offline_access'] : [])],
    'device-authorization-expiration': options.deviceExpiration ?? 600,
    'device-authorization-interval': options.deviceInterval ?? 5,
    'request-parameter-allow': false,
    ...options.pluginParameters,
  }
}

/**
 * glewlwyd's own config (libconfig syntax). Notes: bind_address keeps it on 127.0.0.1 (the Debian
 * sample listens everywhere); with use_secure_connection=false the three secure_connection_*_file
 * settings must still be present or it exits; cookie_secure=0 because the login page is plain http;
 * cookie_domain left out: host-only cookies (glewlwyd warns about it at start, harmless);
 * static files: glewlwyd refuses to serve symlinks that leave static_files_path (404), so the web
 * app is copied with its symlinks resolved.
 */
function configFile(dir: string, port: number, logLevel: string): string {
  const quote = (value: string): string => JSON.stringify(value)
  const mime = [
    ['.html', 'text/html', 1], ['.css', 'text/css', 1], ['.js', 'application/javascript', 1], ['.json', 'application/json', 1],
    ['.png', 'image/png', 0], ['.ico', 'image/x-icon', 0], ['.svg', 'image/svg+xml', 1], ['.ttf', 'font/ttf', 0],
    ['.woff', 'font/woff', 0], ['.woff2', 'font/woff2', 0], ['.eot', 'application/vnd.ms-fontobject', 0], ['.map', 'application/octet-stream', 0],
  ] as const
  return `# cli-login test instance (generated; see test/helpers/glewlwyd.ts)
port=${port}
bind_address="127.0.0.1"
external_url=${quote(`http://127.0.0.1:${port}`)}
login_url="login.html"
api_prefix="api"
static_files_path=${quote(join(dir, 'webapp') + '/')}
allow_origin="*"
log_mode="console"
log_level=${quote(logLevel)}
cookie_secure=0
cookie_same_site="lax"
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
add_x_frame_option_header_deny=true
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path=${quote(join(MODULE_DIR, 'user'))}
client_module_path=${quote(join(MODULE_DIR, 'client'))}
user_auth_scheme_module_path=${quote(join(MODULE_DIR, 'scheme'))}
plugin_module_path=${quote(join(MODULE_DIR, 'plugin'))}
use_secure_connection=false
secure_connection_key_file=${quote(join(dir, 'unused.key'))}
secure_connection_pem_file=${quote(join(dir, 'unused.pem'))}
secure_connection_ca_file=${quote(join(dir, 'unused.crt'))}
hash_algorithm="SHA512"
database = { type = "sqlite3"; path = ${quote(join(dir, 'glewlwyd.db'))}; };
static_files_mime_types = (
${mime.map(([extension, type, compress]) => `  { extension = ${quote(extension)}; mime_type = ${quote(type)}; compress = ${compress}; }`).join(',\n')}
);
`
}

async function initDatabase(path: string): Promise<void> {
  const schema = await readFile(SCHEMA, 'utf8')
  // No fsync while loading a throwaway database.
  await new Promise<void>((resolve, reject) => {
    const sqlite = execFile('sqlite3', [path], (error) => (error ? reject(error) : resolve()))
    sqlite.stdin?.end(`PRAGMA journal_mode=MEMORY;\nPRAGMA synchronous=OFF;\nBEGIN;\n${schema}\nCOMMIT;\n`)
  })
}

async function copyWebApp(target: string): Promise<void> {
  await cp(WEBAPP, target, {
    recursive: true,
    dereference: true,
    // config.json is a symlink to a directory in Debian's package; the admin and profile apps are not needed.
    filter: (source) => !['config.json', 'admin.js', 'index.html', 'profile.js', 'profile.html'].some((name) => source === join(WEBAPP, name)),
  })
  const config = WEBAPP_CONFIG_CANDIDATES.find((candidate) => existsSync(candidate))
  if (!config) throw new Error(`glewlwyd web app config.json not found (${WEBAPP_CONFIG_CANDIDATES.join(', ')})`)
  await cp(config, join(target, 'config.json'))
}

function rsaKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }, (error, publicKey, privateKey) => (error ? reject(error) : resolve({ privateKey, publicKey })))
  })
}

async function waitUntilReady(child: ChildProcess, url: string): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let exited = child.exitCode !== null
  child.once('exit', () => (exited = true))
  while (Date.now() < deadline) {
    if (exited) return false
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.ok) return true
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 15))
  }
  return false
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** POST /api/auth/ with the schema's admin user; returns the session cookie (name=value). */
async function signInAdmin(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  await response.arrayBuffer()
  const cookie = response.headers.getSetCookie().map((line) => line.split(';')[0]).find((pair) => pair.startsWith('GLEWLWYD2_SESSION_ID='))
  if (response.status !== 200 || !cookie) throw new Error(`glewlwyd admin sign-in failed: HTTP ${response.status}`)
  return cookie
}

function adminApi(baseUrl: string, cookie: string): Glewlwyd['admin'] {
  return async (method, path, body) => {
    const response = await fetch(`${baseUrl}/api${path}`, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : ''
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed }
  }
}
