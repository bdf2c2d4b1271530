/**
 * A private glewlwyd (Debian's package, 2.7.5: a C OpenID provider nobody here wrote) for tests.
 *
 * startGlewlwyd() makes a temp dir with its own config file, an sqlite database initialised from the
 * package's schema, a copy of the package's web app (login page) and an RSA signing key, starts
 * /usr/bin/glewlwyd bound to 127.0.0.1 on a free random port, and then, through the admin REST API
 * (signed in as the schema's admin/password), sets up: the scopes `openid` (now needing the password),
 * `profile` and `email`; a test user; the OpenID Connect plugin `oidc` (issuer
 * http://127.0.0.1:<port>/api/oidc); and a PUBLIC client (no secret) whose redirect URIs are
 * http://127.0.0.1:<p>/callback for every p of `redirectPorts`. The system-wide config
 * (/etc/glewlwyd) and service are never read or touched. Install it with scripts/ci/install-glewlwyd.sh.
 *
 * Start-up: ~200 ms for the first instance of a test process (an RSA key is generated, ~170 ms),
 * ~110-120 ms for the next ones (2 shared cores, measured); up to ~0.5-1.6 s under heavy load.
 * `startMs` on the result says how long it took.
 *
 * What glewlwyd 2.7.5 does, as seen by a CLI OAuth client (measured by
 * test/integration/glewlwyd-smoke.test.ts, which prints each as RECORD {...}; source: its
 * src/plugin/protocol_oidc.c at tag v2.7.5):
 * - DISCOVERY <issuer>/.well-known/openid-configuration, plain http on loopback (openid-client needs
 *   allowInsecureRequests). token_endpoint_auth_methods_supported: client_secret_basic,
 *   client_secret_post (+ _jwt/private_key_jwt) — NOT `none`, yet a public client (confidential=false)
 *   without any authentication is served at the token and device endpoints. grant_types_supported:
 *   authorization_code, implicit, urn:ietf:params:oauth:grant-type:device_code (no refresh_token,
 *   refreshing works anyway). revocation_endpoint_auth_methods_supported: ["client_secret_basic"].
 *   code_challenge_methods_supported: ["S256"]. No authorization_response_iss_parameter_supported
 *   (the callback gets no `iss`). scopes_supported = the plugin's allowed-scope; claims_supported:
 *   name, email. ID tokens RS256 (key id in the header, JWKS at <issuer>/jwks).
 * - AUTHORIZATION: /auth → 302 /login.html (web app, see glewlwyd-browser.ts). The callback gets
 *   `code`, `state` and `session_state`. An unknown client_id or an unregistered redirect_uri (e.g.
 *   a callback port outside redirectPorts): /auth answers HTTP 403 with an empty body — no redirect,
 *   the browser shows its own "access denied" page and the CLI hears nothing until it times out.
 * - NONCE: an authorization request with `openid` in scope (or an id_token response type) and no
 *   `nonce` is refused AFTER the user signed in and continued: redirect to the callback with
 *   error=invalid_request&error_description=nonce+required&state=<state>.
 * - SCOPES: a scope must exist in glewlwyd, the user must hold it, and the user grants each scope to
 *   the client once (consent page). Unknown scopes are dropped silently: cli-login's default
 *   `openid profile email offline_access` gives scope "openid profile email" unless the
 *   `offline_access` scope is created (offlineAccessScope: true; then it is granted and echoed).
 *   `offline_access` is NOT needed for a refresh token: the code and device grants always return one
 *   (when the client has authorization_type refresh_token).
 * - TOKEN RESPONSE: access_token (an RS256 JWT, typ "at+jwt", aud = the scope string, e.g.
 *   "openid profile email"), token_type "bearer" (lower case), expires_in, scope, iat (extra),
 *   id_token, refresh_token (opaque, 128 chars).
 * - ID TOKEN CLAIMS: sub (random 32 chars; 'public' subject type here — the plugin's default is
 *   pairwise, a different sub per client), name, email (with scope profile / email granted,
 *   name-claim/email-claim "on-demand" + *-claim-scope; "mandatory" would always add them), iss, aud
 *   (client id), exp, iat, auth_time (0 on the code flow: glewlwyd 2.7.5 puts 0 there), azp, nonce,
 *   amr ["password"], at_hash, c_hash (code flow), sid (session management on). ID token lifetime =
 *   access-token-duration. The device grant's ID token has the same claims (no nonce, no c_hash).
 * - USERINFO (Bearer access token): {sub, name, email} under the same scope rules. An expired access
 *   token: HTTP 401, no WWW-Authenticate header, empty body.
 * - LIFETIMES: access-token-duration (default 3600 s; accessTokenDuration: 3 for refresh tests; also
 *   changeable later: updatePlugin({'access-token-duration': 3}) — applied after the reset it does),
 *   refresh-token-duration (1209600 s; rolling: each use restarts it; refreshTokenDuration), code 600 s,
 *   device code 600 s with interval 5 s (deviceExpiration / deviceInterval).
 * - REFRESH: grant_type=refresh_token&refresh_token=…&client_id=… with no authentication works.
 *   The refresh response has NO id_token (access_token, token_type, expires_in, scope, iat,
 *   refresh_token). With refresh-token-one-use "always" the refresh token is rotated on every use.
 *   REFRESH_REUSE: the old (already used) refresh token → HTTP 400, no Content-Type, EMPTY body
 *   (openid-client v6: ClientError "unexpected response content-type", code
 *   OAUTH_RESPONSE_IS_NOT_JSON — not a ResponseBodyError with invalid_grant). Reuse breaks the chain:
 *   the newest refresh token is disabled too (→ the same 400) — seen when the reuse comes after the
 *   rotation; two refreshes racing with the same token gave 200 + 400 and the winner's new token
 *   stayed valid. An expired, unknown or garbage refresh token, or an unknown client_id: the same
 *   HTTP 400 with an empty body. A bad authorization code: HTTP 403 {"error":"invalid_code"}.
 * - REVOKE_PUBLIC: POST <issuer>/revoke token=…&token_type_hint=refresh_token&client_id=… without
 *   client authentication → HTTP 401, no Content-Type, empty body (openid-client: ClientError
 *   "unexpected response content-type"); the refresh token stays valid (a refresh right after → 200).
 *   glewlwyd only accepts revocation with client_id+secret (Basic or post) of a client that may use
 *   it, or — when the plugin's introspection-revocation-auth-scope lists scopes — a Bearer access
 *   token carrying them (non-standard). A public client cannot revoke.
 * - DEVICE: POST <issuer>/device_authorization client_id=…&scope=… (no auth) → 200 {device_code,
 *   user_code "XXXX-XXXX", verification_uri <issuer>/device, verification_uri_complete
 *   <issuer>/device?code=<user_code>, expires_in, interval}. Polling before approval: HTTP 400
 *   {"error":"authorization_pending"} (application/json). After approval: access, refresh and ID token.
 * - END SESSION: <issuer>/end_session?id_token_hint=<valid id token>[&post_logout_redirect_uri=…&state=…]
 *   → 302 /login.html?…&prompt=end_session: a page "The client <name> wishes you to close the current
 *   session" with buttons "Logout" / "Stay connected"; nothing happens until the user presses Logout.
 *   post_logout_redirect_uri is honoured only when it is in the client's post_logout_redirect_uris
 *   (postLogoutRedirectUris option) — then Logout ends at <uri>?state=<state>; otherwise ignored
 *   silently. WITHOUT id_token_hint (client_id only, or nothing): HTTP 200, EMPTY body — a blank page,
 *   the session is not ended. An invalid or expired id_token_hint: 302 /login.html?prompt=single_logout,
 *   which the web app shows as "callback_url parameter is missing … Invalid login URL" (nothing ended).
 *   Pressing Logout before the page has loaded the session's client list does nothing (the helper waits).
 *   With a valid hint and no (registered) post_logout_redirect_uri, Logout ends at "Session closed —
 *   You are disconnected" on glewlwyd's page. Logout there also disables the tokens issued in that
 *   session (sid): its refresh token then gets HTTP 400 with an empty body — the same answer as a
 *   replayed one.
 *   Needs the plugin's session-management-allowed (and front-channel-logout-allowed for the web app's
 *   logout iframes) — both on here.
 * - ADMIN API quirks: plugin (and client module) changes apply only after PUT …/reset; a refused
 *   plugin POST still leaves the instance behind; the sqlite schema's admin is admin/password.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { generateKeyPair } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
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
  /** Generate a new RSA signing key for this instance (default: one key per test process, generated on first use and written into each instance's dir). */
  freshSigningKey?: boolean
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

/** Running instances and their temp dirs, killed and removed if the test process exits without stop() (a crash, process.exit). */
const running = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const leftover of running) leftover.kill('SIGKILL')
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  })
}

function track(child: ChildProcess): void {
  running.add(child)
  child.once('exit', () => running.delete(child))
}

/** Starts a private glewlwyd on 127.0.0.1 and configures it over its admin API. Throws when the binary is missing. */
export async function startGlewlwyd(options: StartGlewlwydOptions = {}): Promise<Glewlwyd> {
  const started = performance.now()
  const binary = glewlwydBinary()
  if (!binary) throw new Error('glewlwyd is not installed (run scripts/ci/install-glewlwyd.sh)')
  installExitHook()
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-glewlwyd-'))
  tempDirs.add(dir)
  let child: ChildProcess | undefined
  let output = ''
  const stop = async (): Promise<void> => {
    if (child) await stopChild(child)
    child = undefined
    await rm(dir, { recursive: true, force: true })
    tempDirs.delete(dir)
  }
  try {
    const [keys] = await Promise.all([
      rsaKeyPair(options.freshSigningKey),
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
      track(child)
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
    // Ours answered, not some other server that held the port (glewlwyd exits at once when it cannot bind).
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`glewlwyd exited on 127.0.0.1:${port}:\n${output}`)
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

let sharedKeyPair: Promise<{ privateKey: string; publicKey: string }> | undefined

/** RSA 2048 generation costs ~170 ms here: one pair per test process unless a fresh one is asked for. */
function rsaKeyPair(fresh = false): Promise<{ privateKey: string; publicKey: string }> {
  if (fresh) return generateRsaKeyPair()
  sharedKeyPair ??= generateRsaKeyPair()
  return sharedKeyPair
}

function generateRsaKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
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
