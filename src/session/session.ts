import type { ExplicitEndpoints } from '../protocol/provider.ts'
import { LAST_RFC3339_S } from '../time.ts'

/** What a successful login leaves on disk for a profile. Times are epoch seconds. */
export interface Session {
  version: 1
  issuer: string
  clientId: string
  /** Only for providers that demand one from desktop apps; deleted with the session. */
  clientSecret?: string
  audience?: string
  organization?: string
  /** The scope that was asked for, space-separated. */
  requestedScope: string
  /** The scope the provider granted, when it said. */
  scope?: string
  tokenType: string
  accessToken: string
  /** When the access token expires; undefined when the provider did not say. */
  expiresAt?: number
  refreshToken?: string
  idToken?: string
  /** When the ID token expires (its `exp`), for `token --token-type id`. */
  idTokenExpiresAt?: number
  /** The ID token's claims, verified when it was received. */
  claims?: Record<string, unknown>
  /**
   * The ID token of a refresh whose answer was stored before it could be verified (its JWKS
   * unreachable for a moment): not used, and verified at the next refresh (idToken and claims are
   * still the previous ones).
   */
  unverifiedIdToken?: string
  user: SessionUser
  /** Tokens for other APIs or narrower scopes from the same login, by targetKey(). */
  targets?: Record<string, TargetToken>
  createdAt: number
  refreshedAt?: number
  /** Set when the provider rejected the refresh token (invalid_grant): the session needs a new login. */
  refreshRejectedAt?: number
  /**
   * Where the secrets are: absent, in this file; `keychain`, in the OS keychain, and the file holds
   * none of them (no accessToken, refreshToken, idToken, clientSecret, targets' accessToken).
   */
  storage?: 'keychain'
  /** The `resource` parameter (RFC 8707) of the login, sent again with every refresh. */
  resource?: string
  /** The protected resource's URL the login was started from, when it was found from it (RFC 9728). */
  resourceUrl?: string
  /** A server that publishes no metadata: the endpoints given at login (the issuer is the token endpoint's origin). */
  endpoints?: ExplicitEndpoints
  /** The client id is a registration this tool made (RFC 7591); its secret, if any, is clientSecret. */
  registration?: ClientRegistration
  /**
   * DPoP (RFC 9449): the private key (an ES256 JWK, `d` included) the session's tokens are bound
   * to, made at login. A secret: kept with the refresh token (the keychain item, or this 0600 file).
   */
  dpopKey?: JsonWebKey
  /** The DPoP key's JWK SHA-256 thumbprint (RFC 7638): the tokens' `cnf.jkt`. Not secret. */
  jkt?: string
  /** The last DPoP nonce each server gave (`DPoP-Nonce`), by origin. Not secret. */
  dpopNonces?: Record<string, string>
  /** A session without a person: the grant that gives it a new token when the cached one expires (no refresh token). */
  grant?: 'client-credentials' | 'jwt-bearer' | 'token-exchange'
  /** private_key_jwt's key (PEM or JWK text), copied at login; a secret, like clientSecret. */
  privateKey?: string
  /** Where a federated session's assertion comes from (`github`, `gitlab:<VAR>`, `env:<VAR>`, `file:<path>`). */
  federated?: string
  /** The audience asked of the GitHub Actions token service. */
  federatedAudience?: string
}

/** A client this tool registered with the authorization server (RFC 7591). */
export interface ClientRegistration {
  /** The redirect URIs it was registered with: every port of the range at the time. */
  redirectUris: string[]
  /** The server issued a client secret (kept with the session's secrets, never in the settings). */
  hasSecret?: boolean
}

/** An access token for another API (audience / resource) or a narrower scope, got with the session's refresh token. */
export interface TargetToken {
  audience?: string
  resource?: string
  /** The scope asked for, space-separated. */
  scope?: string
  tokenType: string
  accessToken: string
  expiresAt?: number
  refreshedAt: number
  /**
   * Enterprise-managed authorization: the token is from this other authorization server (an ID-JAG
   * from the session's identity provider, exchanged there by the JWT bearer grant), for this client there.
   */
  authorizationServer?: string
  clientId?: string
}

export interface SessionUser {
  sub?: string
  email?: string
  name?: string
}

/** What `status` shows; the shape of `status --json`. Every key is always present. */
export interface SessionStatus {
  profile: string
  issuer: string | null
  subject: string | null
  email: string | null
  name: string | null
  expires_at: number | null
  audience: string | null
  scope: string | null
  has_refresh_token: boolean
  /** Where the session's secrets are kept. */
  storage: 'file' | 'keychain'
  /** The verified ID token's claims; null without an ID token. */
  claims: Record<string, unknown> | null
  /** `Bearer` or `DPoP` (RFC 9449), as the session's access token is used. */
  token_type: string
  /** The DPoP key's thumbprint; null for a bearer session. */
  jkt: string | null
  /** The login's `resource` (RFC 8707), sent with every refresh; null without one. */
  resource: string | null
}

/** The non-secret settings a profile remembers from its last successful login. */
export interface ProfileSettings {
  issuer?: string
  clientId?: string
  audience?: string
  scope?: string
  organization?: string
  port?: number
  portAttempts?: number
  redirectHost?: '127.0.0.1' | 'localhost'
  redirectPath?: string
  device?: boolean
  /** The protected resource's URL (or the `resource` given with an issuer). */
  resource?: string
  /** The issuer was found from the resource's metadata (RFC 9728): a login finds it again. */
  resourceDiscovery?: boolean
  endpoints?: ExplicitEndpoints
  /** clientId is this registration of the tool's (RFC 7591). */
  registration?: ClientRegistration
  /** DPoP (RFC 9449) as the last login was told: `auto`, or on / off. */
  dpop?: 'auto' | boolean
  /** Pushed authorization requests (RFC 9126) as the last login was told. */
  par?: 'auto' | boolean
}

/** What getAccessToken() returns and `token --format json` prints. */
export interface AccessToken {
  access_token: string
  token_type: string
  /** Epoch seconds, or null when the provider did not say. */
  expires_at: number | null
  /**
   * DPoP-bound tokens (`token_type` `DPoP`): a fresh `DPoP` header value for a request (RFC 9449
   * §4: htm, htu, ath, iat, jti, and `nonce`, given or the last one remembered for the origin).
   */
  proof?: (request: { method: string; url: string | URL; nonce?: string }) => Promise<string>
}

export function sessionStatus(profile: string, session: Session): SessionStatus {
  return {
    profile,
    issuer: session.issuer,
    subject: session.user.sub ?? null,
    email: session.user.email ?? null,
    name: session.user.name ?? null,
    expires_at: session.expiresAt ?? null,
    audience: session.audience ?? null,
    scope: session.scope || session.requestedScope || null,
    has_refresh_token: Boolean(session.refreshToken),
    storage: session.storage ?? 'file',
    claims: session.claims ?? null,
    token_type: session.tokenType,
    jkt: session.jkt ?? null,
    resource: session.resource ?? null,
  }
}

/** True when the session can no longer give a token without a new login. */
export function isSessionExpired(session: Session): boolean {
  return session.refreshRejectedAt !== undefined
}

/** Checks that parsed JSON has the shape of ProfileSettings; returns the reason when it does not. */
export function settingsShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const s = value as Record<string, unknown>
  for (const key of ['issuer', 'clientId', 'audience', 'scope', 'organization', 'redirectHost', 'redirectPath'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'string') return `"${key}" is not a string`
  }
  for (const key of ['port', 'portAttempts'] as const) {
    if (s[key] !== undefined && !Number.isInteger(s[key])) return `"${key}" is not a whole number`
  }
  if (s.device !== undefined && typeof s.device !== 'boolean') return '"device" is not true or false'
  if (s.resource !== undefined && typeof s.resource !== 'string') return '"resource" is not a string'
  if (s.resourceDiscovery !== undefined && typeof s.resourceDiscovery !== 'boolean') return '"resourceDiscovery" is not true or false'
  for (const key of ['dpop', 'par'] as const) {
    if (s[key] !== undefined && s[key] !== 'auto' && typeof s[key] !== 'boolean') return `"${key}" is not "auto", true or false`
  }
  return serverFieldsProblem(s)
}

/** The endpoints and registration a session or the settings may carry. */
function serverFieldsProblem(s: Record<string, unknown>): string | undefined {
  if (s.endpoints !== undefined) {
    const e = s.endpoints as Record<string, unknown> | null
    if (typeof e !== 'object' || e === null || typeof e.tokenEndpoint !== 'string') return '"endpoints" has no "tokenEndpoint"'
    for (const key of ['authorizationEndpoint', 'deviceAuthorizationEndpoint', 'revocationEndpoint', 'registrationEndpoint']) {
      if (e[key] !== undefined && typeof e[key] !== 'string') return `"endpoints.${key}" is not a string`
    }
  }
  if (s.registration !== undefined) {
    const r = s.registration as Record<string, unknown> | null
    if (typeof r !== 'object' || r === null || !Array.isArray(r.redirectUris) || !r.redirectUris.every((u) => typeof u === 'string')) return '"registration" has no "redirectUris"'
    if (r.hasSecret !== undefined && typeof r.hasSecret !== 'boolean') return '"registration.hasSecret" is not true or false'
  }
  return undefined
}

/** Checks that parsed JSON has the shape of a Session; returns the reason when it does not. */
export function sessionShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const s = value as Record<string, unknown>
  if (s.version !== 1) return `unknown version ${JSON.stringify(s.version)}`
  if (s.grant !== undefined && s.grant !== 'client-credentials' && s.grant !== 'jwt-bearer' && s.grant !== 'token-exchange') return `unknown grant ${JSON.stringify(s.grant)}`
  if (s.storage !== undefined && s.storage !== 'keychain') return `unknown storage ${JSON.stringify(s.storage)}`
  // With the secrets in the keychain, the file has no tokens (session/keychain-store.ts puts them back).
  const inKeychain = s.storage === 'keychain'
  for (const key of ['issuer', 'clientId', ...(inKeychain ? [] : ['accessToken' as const]), 'tokenType'] as const) {
    if (typeof s[key] !== 'string' || s[key] === '') return `"${key}" is missing`
  }
  // Empty for a server without metadata that was asked for no scope.
  if (typeof s.requestedScope !== 'string') return '"requestedScope" is missing'
  for (const key of ['clientSecret', 'audience', 'organization', 'scope', 'refreshToken', 'idToken', 'unverifiedIdToken', 'resource', 'resourceUrl', 'privateKey', 'federated', 'federatedAudience'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'string') return `"${key}" is not a string`
  }
  for (const key of ['expiresAt', 'idTokenExpiresAt', 'createdAt', 'refreshedAt', 'refreshRejectedAt'] as const) {
    const problem = timeProblem(s[key])
    if (problem) return `"${key}" ${problem}`
  }
  if (typeof s.user !== 'object' || s.user === null || Array.isArray(s.user)) return '"user" is missing'
  for (const key of ['sub', 'email', 'name'] as const) {
    const value = (s.user as Record<string, unknown>)[key]
    if (value !== undefined && typeof value !== 'string') return `"user.${key}" is not a string`
  }
  if (s.jkt !== undefined && typeof s.jkt !== 'string') return '"jkt" is not a string'
  if (s.dpopKey !== undefined && !isEs256PrivateJwk(s.dpopKey)) return '"dpopKey" is not an ES256 private key'
  if (s.dpopNonces !== undefined && (typeof s.dpopNonces !== 'object' || s.dpopNonces === null || Object.values(s.dpopNonces).some((n) => typeof n !== 'string'))) return '"dpopNonces" is not an object of strings'
  for (const key of ['claims', 'targets'] as const) {
    if (s[key] !== undefined && (typeof s[key] !== 'object' || s[key] === null || Array.isArray(s[key]))) return `"${key}" is not an object`
  }
  for (const [name, target] of Object.entries((s.targets ?? {}) as Record<string, Record<string, unknown>>)) {
    const field = (key: string) => `"targets[${JSON.stringify(name)}].${key}"`
    if (typeof target !== 'object' || target === null || Array.isArray(target)) return `"targets[${JSON.stringify(name)}]" is not an object`
    if ((!inKeychain || target.accessToken !== undefined) && typeof target.accessToken !== 'string') return `${field('accessToken')} is not a string`
    for (const key of ['tokenType'] as const) if (typeof target[key] !== 'string') return `${field(key)} is not a string`
    for (const key of ['audience', 'resource', 'scope', 'authorizationServer', 'clientId'] as const) if (target[key] !== undefined && typeof target[key] !== 'string') return `${field(key)} is not a string`
    for (const key of ['expiresAt', 'refreshedAt'] as const) {
      const problem = timeProblem(target[key])
      if (problem) return `${field(key)} ${problem}`
    }
  }
  return serverFieldsProblem(s)
}

/** Stored times are epoch seconds a date can hold (PRODUCT.md: every printed time is RFC 3339). */
function timeProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'is not a number'
  return value < 0 || value > LAST_RFC3339_S ? 'is not a time a date can hold' : undefined
}

/** The provider's discovery document as fetched for a profile, so the next login or refresh can skip the request. */
export interface ProviderMetadataCache {
  issuer: string
  /** Epoch seconds. */
  fetchedAt: number
  metadata: Record<string, unknown>
  /** Found by OpenID discovery (an OpenID provider); absent in caches written before this was kept. */
  openid?: boolean
  /** The key set at the metadata's jwks_uri, so that verifying an ID token needs no request. */
  jwks?: { keys: unknown[]; fetchedAt: number }
}

/** What a DPoP proof can be signed with (protocol/dpop-proof.ts): an EC P-256 JWK with its private part. */
function isEs256PrivateJwk(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const jwk = value as Record<string, unknown>
  return jwk.kty === 'EC' && jwk.crv === 'P-256' && ['x', 'y', 'd'].every((member) => typeof jwk[member] === 'string')
}
