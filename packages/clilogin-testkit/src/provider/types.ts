/** The test kit provider's public types: its options, its handle, the faults and stats a test reads and sets. */

/** A user who can sign in on the provider's sign-in page. */
export interface DemoUser { sub: string; username: string; password: string; email: string; name: string }

/** A client the tool under test uses (its baked-in client id), registered besides the demo clients. */
export interface TestClient {
  clientId: string
  /** With a secret the client is confidential (client_secret_post or client_secret_basic); without, public. */
  clientSecret?: string
  /** Shown on the sign-in and consent pages. Default: the client id. */
  clientName?: string
  /**
   * DPoP (RFC 9449): the token endpoint refuses a request without a proof (`invalid_dpop_proof`)
   * and binds every access token (and a public client's refresh tokens) to the key
   * (`dpop_bound_access_tokens`). Default false: a proof is still honoured when sent.
   */
  dpop?: boolean
  /** Require a server nonce in this client's DPoP proofs (`use_dpop_nonce` first, RFC 9449 §8). */
  dpopNonce?: boolean
  /** Refuse this client's plain authorization requests: pushed ones only (RFC 9126 `require_pushed_authorization_requests`). */
  par?: boolean
  /**
   * Its public keys: the client authenticates with private_key_jwt (RFC 7523 §2.2) instead of a
   * secret. A client with a secret or keys may use the client credentials grant.
   */
  jwks?: { keys: Record<string, unknown>[] }
}

/** An issuer whose JWTs the provider takes as assertions (JWT bearer grant, token exchange): e.g. a CI platform's token service. */
export interface TrustedAssertionIssuer {
  issuer: string
  jwks: { keys: Record<string, unknown>[] }
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
  /** Require a server nonce in every DPoP proof (RFC 9449 §8). Default false. */
  dpopNonce?: boolean
  /**
   * Pushed authorization requests (RFC 9126): `true` offers the endpoint, `'required'` also refuses
   * plain authorization requests from every client. Default false (no PAR endpoint; a client's
   * `par` turns the endpoint on).
   */
  par?: boolean | 'required'
  /**
   * Answer the PAR endpoint with `invalid_request` for public clients (a server that offers PAR
   * only to confidential clients). Default false.
   */
  parRefusesPublicClients?: boolean
  /**
   * Issuers whose signed JWTs (for this provider's issuer, unexpired) are exchanged for access
   * tokens by the JWT bearer grant and token exchange, e.g. `[ciTokenService]` (startCiTokenService()).
   */
  trustedAssertionIssuers?: readonly TrustedAssertionIssuer[]
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
  /** Body of every POST to the PAR endpoint, in order, as the client sent it (with whether it carried a DPoP proof). */
  pushedAuthorizationRequests: Array<{ params: URLSearchParams; dpop: boolean }>
  /** Token endpoint requests that carried a DPoP proof. */
  dpopProofs: number
}

/** The identity an access token stands for. */
export interface TokenIdentity {
  sub: string
  aud?: string | string[]
  scope?: string
  /** A DPoP-bound token: the thumbprint of the key it is bound to (`cnf.jkt`). */
  jkt?: string
}

export interface TestProvider {
  /** `http://127.0.0.1:<port>/` (https with `tls`); discovery at `<issuer>.well-known/openid-configuration`. */
  readonly issuer: string
  /**
   * Its public signing keys: another provider given `trustedAssertionIssuers: [provider]` takes
   * this one's ID-JAGs (enterprise-managed authorization: this one the identity provider).
   */
  readonly jwks: { keys: Record<string, unknown>[] }
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
