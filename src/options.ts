import { UsageError } from './errors.ts'
import type { ExplicitEndpoints } from './protocol/provider.ts'
import { issuerFromDomain } from './protocol/quirks.ts'
import { isLoopbackHttp } from './protocol/url.ts'
import type { ClientRegistration, ProfileSettings } from './session/session.ts'

export const DEFAULTS = {
  profile: 'default',
  scope: 'openid profile email offline_access',
  port: 4242,
  portAttempts: 50,
  redirectHost: '127.0.0.1',
  redirectPath: '/callback',
  timeoutS: 300,
  minTtlS: 60,
} as const

export type RedirectHost = '127.0.0.1' | 'localhost'

/** The settings a login needs, as given by the caller (CLI: flags over env vars); any may be missing. */
export interface LoginSettingsInput {
  issuer?: string
  /** Auth0 shorthand: host[:port] → issuer https://<domain>/ */
  domain?: string
  clientId?: string
  clientSecret?: string
  audience?: string
  organization?: string
  /** Space- or comma-separated, or a list. */
  scope?: string | string[]
  prompt?: string
  /**
   * Who is expected to sign in (`login_hint`, OpenID Connect Core 3.1.2.1), e.g. an email. Without
   * it, a new login on a profile of an OpenID provider hints at the profile's email, except with
   * `prompt` login or select_account (the user means to pick another account).
   */
  loginHint?: string
  port?: number
  portAttempts?: number
  redirectHost?: RedirectHost
  redirectPath?: string
  timeoutS?: number
  device?: boolean
  /**
   * The API to log in to (RFC 8707 resource). Without an issuer, where to log in is found from its
   * URL (RFC 9728 protected resource metadata, as MCP clients do); with one, it is only sent as `resource`.
   */
  resource?: string
  /**
   * Without a client id: the https URL of the tool's Client ID Metadata Document, used as the client
   * id where the authorization server supports them (else the tool registers itself, RFC 7591).
   */
  clientMetadataUrl?: string
  /** For a server that publishes no metadata: its endpoints (tokenEndpoint required; the issuer is its origin). */
  authorizationEndpoint?: string
  tokenEndpoint?: string
  deviceAuthorizationEndpoint?: string
  revocationEndpoint?: string
  /**
   * DPoP (RFC 9449): bind the session's tokens to a fresh key of this login's (true), never (false),
   * or `auto` (default): when the protected resource requires it (`dpop_bound_access_tokens_required`,
   * or its 401 offers only the DPoP scheme) or the token endpoint asks for a proof.
   */
  dpop?: 'auto' | boolean
  /**
   * Pushed authorization requests (RFC 9126): always (true), never (false), or `auto` (default):
   * when the server requires or offers them.
   */
  par?: 'auto' | boolean
  /**
   * A login without a person (no browser): `client-credentials` (the client's own token: its secret,
   * or `privateKey` for private_key_jwt, RFC 7523 §2.2), `jwt-bearer` (RFC 7523 §2.1) or
   * `token-exchange` (RFC 8693) of an assertion (`assertion`, or `federated`). Default: the browser
   * login, unless `assertion` or `federated` is given (then jwt-bearer when the server's metadata
   * lists it or lists no grants, else token exchange).
   */
  grant?: MachineGrant
  /** The client's private key (PEM or JWK text) for private_key_jwt; kept with the session's secrets. */
  privateKey?: string
  /**
   * Where a federated login's assertion comes from, each time one is needed: `github` (the Actions
   * OIDC token service, ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN), `gitlab:<VAR>` (an `id_tokens`
   * variable), `env:<VAR>`, `file:<path>`. Kept with the session, so a later process can renew.
   */
  federated?: string
  /** The audience of the GitHub Actions token (default: the authorization server's issuer). */
  federatedAudience?: string
}

/** The grants of a login without a person. */
export type MachineGrant = 'client-credentials' | 'jwt-bearer' | 'token-exchange'
export const MACHINE_GRANTS: readonly MachineGrant[] = ['client-credentials', 'jwt-bearer', 'token-exchange']

/** Everything a login uses, after defaults and validation. */
export interface LoginSettings {
  issuer: string
  clientId: string
  clientSecret?: string
  audience?: string
  organization?: string
  scope: string
  prompt?: string
  loginHint?: string
  port: number
  portAttempts: number
  redirectHost: RedirectHost
  redirectPath: string
  timeoutS: number
  device: boolean
  /** The `resource` parameter (RFC 8707) on the authorization, token and refresh requests. */
  resource?: string
  /** The protected resource's URL as given, when `resource` was found from it. */
  resourceUrl?: string
  endpoints?: ExplicitEndpoints
  /** The client id is a registration this tool made (RFC 7591). */
  registration?: ClientRegistration
  dpop: 'auto' | boolean
  par: 'auto' | boolean
  /** The protected resource wants DPoP-bound tokens (its metadata, or a 401 offering only DPoP): `auto` turns DPoP on. */
  dpopRequired?: boolean
  /** A step-up asked for these (RFC 9470): `acr_values` and `max_age` go with the authorization request. */
  acrValues?: string
  maxAge?: number
}

/** What a login found out before its settings are resolved: where to log in, which client, which scope. */
export interface DiscoveredSettings {
  issuer: string
  clientId?: string
  clientSecret?: string
  scope?: string
  resource?: string
  resourceUrl?: string
  endpoints?: ExplicitEndpoints
  registration?: ClientRegistration
  dpopRequired?: boolean
}

/**
 * Given settings win over what the profile remembers, which wins over the defaults. What the profile
 * remembers is for its issuer only: given another issuer, none of it applies.
 */
export function resolveLoginSettings(given: LoginSettingsInput, profileMemory: ProfileSettings, found?: DiscoveredSettings): LoginSettings {
  const givenIssuer = found?.issuer ?? issuerFrom(given)
  const remembered = givenIssuer && profileMemory.issuer && !sameIssuer(givenIssuer, profileMemory.issuer) ? {} : profileMemory
  const issuer = givenIssuer ?? remembered.issuer
  if (!issuer) throw UsageError.forOption('issuer', 'is required (or "domain" for an Auth0 tenant)')
  const clientId = given.clientId ?? found?.clientId ?? remembered.clientId
  if (!clientId) throw UsageError.forOption('clientId', 'is required')
  const redirect = resolveRedirectSettings(given, remembered)
  const timeoutS = given.timeoutS ?? DEFAULTS.timeoutS
  if (!(timeoutS >= 0.001 && timeoutS <= MAX_TIMEOUT_S)) {
    throw UsageError.forOption('timeoutS', `must be a number of seconds from 0.001 to ${MAX_TIMEOUT_S}, not ${timeoutS}`)
  }
  const scope = given.scope ?? remembered.scope ?? found?.scope
  return {
    issuer: validateIssuer(issuer),
    clientId,
    clientSecret: given.clientSecret || found?.clientSecret || undefined,
    audience: given.audience ?? remembered.audience,
    organization: given.organization ?? remembered.organization,
    // A server without metadata gets no scope unless one is given (there is no knowing what it has).
    // '' (found or remembered): the server names no scope, so none is sent.
    scope: scope === '' ? '' : scope !== undefined ? normalizeScope(scope) : found?.endpoints ? '' : DEFAULTS.scope,
    prompt: given.prompt || undefined,
    loginHint: given.loginHint || undefined,
    ...redirect,
    timeoutS,
    device: given.device ?? remembered.device ?? false,
    dpop: given.dpop ?? remembered.dpop ?? 'auto',
    par: given.par ?? remembered.par ?? 'auto',
    ...definedOnly({ resource: found?.resource ?? given.resource ?? (remembered.resourceDiscovery ? undefined : remembered.resource), resourceUrl: found?.resourceUrl, endpoints: found?.endpoints, registration: found?.registration, dpopRequired: found?.dpopRequired }),
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** An endpoint or resource URL given by the user: https, or http on loopback only. */
export function validateServerUrl(option: string, value: string): string {
  const url = URL.parse(value)
  if (!url || (url.protocol !== 'https:' && !isLoopbackHttp(url))) {
    throw UsageError.forOption(option, `must be an https URL (plain http only on 127.0.0.1 or localhost), not ${JSON.stringify(value)}`)
  }
  if (url.hash) throw UsageError.forOption(option, `must not have a fragment: ${value}`)
  return value
}

export interface RedirectSettings {
  port: number
  portAttempts: number
  redirectHost: RedirectHost
  redirectPath: string
}

export function resolveRedirectSettings(given: LoginSettingsInput, remembered: ProfileSettings): RedirectSettings {
  const port = given.port ?? remembered.port ?? DEFAULTS.port
  const portAttempts = given.portAttempts ?? remembered.portAttempts ?? DEFAULTS.portAttempts
  const redirectHost = given.redirectHost ?? remembered.redirectHost ?? DEFAULTS.redirectHost
  const redirectPath = given.redirectPath ?? remembered.redirectPath ?? DEFAULTS.redirectPath
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw UsageError.forOption('port', `must be a port number (1-65535), not ${port}`)
  if (!Number.isInteger(portAttempts) || portAttempts < 1 || port + portAttempts - 1 > 65535) {
    throw UsageError.forOption('portAttempts', `must be a whole number from 1 to ${65536 - port}, not ${portAttempts}`)
  }
  if (redirectHost !== '127.0.0.1' && redirectHost !== 'localhost') {
    throw UsageError.forOption('redirectHost', `must be 127.0.0.1 or localhost, not ${JSON.stringify(redirectHost)}`)
  }
  if (!/^\/[A-Za-z0-9\-._~/%]*$/.test(redirectPath) || redirectPath.startsWith('//')) {
    throw UsageError.forOption('redirectPath', `must be a URL path starting with /, not ${JSON.stringify(redirectPath)}`)
  }
  return { port, portAttempts, redirectHost, redirectPath }
}

/** The redirect URIs a provider must accept for these settings: one per port of the range. */
export function callbackUrls(settings: RedirectSettings): string[] {
  return Array.from({ length: settings.portAttempts }, (_, i) => `http://${settings.redirectHost}:${settings.port + i}${settings.redirectPath}`)
}

/** Timers take at most 2^31 - 1 ms. */
const MAX_TIMEOUT_S = 2_147_483

export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '')
}

/** The issuer given as --issuer or --domain, if any. */
export function issuerFrom(given: Pick<LoginSettingsInput, 'issuer' | 'domain'>): string | undefined {
  if (given.issuer && given.domain) throw UsageError.forOption('domain', 'cannot be given together with "issuer"')
  if (given.domain) return issuerFromDomain(given.domain)
  return given.issuer
}

function validateIssuer(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw UsageError.forOption('issuer', `must be a URL such as https://tenant.auth0.com/, not ${JSON.stringify(issuer)}`)
  }
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    throw UsageError.forOption('issuer', `must use https (plain http only for a provider on 127.0.0.1 or localhost): ${issuer}`)
  }
  if (url.search || url.hash) throw UsageError.forOption('issuer', `must not have a query or fragment: ${issuer}`)
  return issuer
}

/** Scopes are space-separated; commas are accepted too. */
export function normalizeScope(scope: string | string[]): string {
  const words = (Array.isArray(scope) ? scope.join(' ') : scope).split(/[\s,]+/).filter(Boolean)
  if (words.length === 0) throw UsageError.forOption('scope', 'must name at least one scope')
  return [...new Set(words)].join(' ')
}

export function hasScope(scope: string | undefined, name: string): boolean {
  return (scope ?? '').split(' ').includes(name)
}
