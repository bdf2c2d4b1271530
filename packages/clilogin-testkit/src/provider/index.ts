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
 *
 * This file puts the parts together; each lives in its own module of this folder:
 *   types.ts, demo.ts      the public API: options, handle, faults, stats; the demo users, clients, APIs
 *   kit.ts                 what the parts of one running provider share (options resolved, store, faults, stats)
 *   oidc-provider.ts       the slice of oidc-provider's (and Koa's) types used; loading it, quietly
 *   configuration.ts       oidc-provider's configuration (features, TTLs, claims, resource indicators)
 *   clients.ts             the registered clients' metadata (per-client options map here)
 *   routes.ts              the endpoints' paths and the grant names
 *   adapter.ts, keys.ts    the in-memory store; the signing key
 *   server.ts, http.ts     the HTTP(S) server on 127.0.0.1; small request helpers
 *   pages.ts               every HTML page; interactions.ts: the sign-in and consent steps
 *   stats.ts, faults.ts    what the provider counts; the faults a test switches on
 *   auth0.ts               where oidc-provider answers unlike Auth0, made to answer like it
 *   discovery.ts           OpenID and RFC 8414 metadata (`discovery: 'oauth2'`)
 *   token-endpoint.ts      POST /oauth/token around oidc-provider's handling
 *   par.ts                 POST /oauth/par recorded (and refused for public clients, on request)
 *   api.ts                 the example API and access token verification
 *   controls.ts            revokeGrants, expireTokens, addResourceServer, forgetClient
 * A new endpoint or fault: a middleware in its module, one line in the list below. A new option or
 * fault field: types.ts. A new oidc-provider feature: configuration.ts. A new grant: a module that
 * registers it on the provider (after `new Provider` below) and its name in clients.ts' grant_types.
 */
import { DemoStore } from './adapter.ts'
import { accessTokenVerifier, apiMe } from './api.ts'
import { deviceAuthorizationInterval, offlineAccessWithoutConsentPrompt, userinfoForApiTokens } from './auth0.ts'
import { providerConfiguration } from './configuration.ts'
import { testControls } from './controls.ts'
import { DEMO_API_SCOPE, DEMO_AUDIENCE, DEMO_SECOND_API_SCOPE, DEMO_SECOND_AUDIENCE, DEMO_USERS } from './demo.ts'
import { discoveryDocuments } from './discovery.ts'
import { authorizationResponseIssFault, jwksFault } from './faults.ts'
import { interactionRoutes } from './interactions.ts'
import { registerFederatedGrants } from './federation.ts'
import { generateSigningKey } from './keys.ts'
import type { Kit } from './kit.ts'
import { importOidcProvider, quietServerErrors, type ProviderInstance } from './oidc-provider.ts'
import { startLoopbackServer } from './server.ts'
import { countProviderEvents, countRequests, emptyStats } from './stats.ts'
import { tokenEndpoint } from './token-endpoint.ts'
import { pushedAuthorizationRequests } from './par.ts'
import type { TestProvider, TestProviderOptions } from './types.ts'

export {
  DEMO_AUDIENCE,
  DEMO_CLIENT_ID,
  DEMO_CLIENT_SECRET,
  DEMO_CONFIDENTIAL_CLIENT_ID,
  DEMO_SECOND_AUDIENCE,
  DEMO_USERS,
} from './demo.ts'
export type {
  DemoUser,
  ResourceServerOptions,
  TestClient,
  TestProvider,
  TestProviderFaults,
  TestProviderOptions,
  TestProviderStats,
  TokenIdentity,
  TrustedAssertionIssuer,
} from './types.ts'

/** Starts a provider on 127.0.0.1 and resolves once it listens. Close it with `close()`. */
export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  const { Provider, errors } = await importOidcProvider()
  const server = await startLoopbackServer(options)
  const users = options.users ?? DEMO_USERS
  const apiScopes: Record<string, string> = {
    [DEMO_AUDIENCE]: DEMO_API_SCOPE,
    [DEMO_SECOND_AUDIENCE]: DEMO_SECOND_API_SCOPE,
    ...Object.fromEntries((options.audiences ?? []).map((api) => [api, DEMO_API_SCOPE])),
  }
  const kit: Kit = {
    issuer: server.origin,
    users,
    prefillUser: options.prefillUsername === undefined ? undefined : users.find((user) => user.username === options.prefillUsername),
    plainOAuth2: options.discovery === 'oauth2',
    apiScopes,
    audiences: Object.keys(apiScopes),
    store: new DemoStore(),
    signingKey: generateSigningKey(),
    faults: {},
    stats: emptyStats(),
    issuedAccessTokens: new Set(),
    expiredAccessTokens: new Set(),
    dpopClients: new Set((options.clients ?? []).filter((client) => client.dpop).map((client) => client.clientId)),
    assertionSubjects: new Map(),
  }

  let provider: ProviderInstance
  try {
    provider = new Provider(kit.issuer, providerConfiguration(kit, options, errors))
  } catch (error) {
    await server.close()
    throw error
  }
  registerFederatedGrants(provider, kit, options.trustedAssertionIssuers ?? [], errors)
  quietServerErrors(provider)
  countProviderEvents(provider, kit.stats)
  const verifyAccessToken = accessTokenVerifier(kit, provider)

  // In request order: each one handles its requests and passes the others on (next), down to
  // oidc-provider's own routes. A new endpoint or fault is one more middleware in this list.
  const middleware = [
    countRequests(kit.stats),
    discoveryDocuments(kit),
    offlineAccessWithoutConsentPrompt(),
    jwksFault(kit),
    tokenEndpoint(kit),
    pushedAuthorizationRequests(kit, options.parRefusesPublicClients === true),
    userinfoForApiTokens(kit, verifyAccessToken),
    apiMe(kit, verifyAccessToken),
    interactionRoutes(kit, provider),
    deviceAuthorizationInterval(),
    authorizationResponseIssFault(kit),
  ]
  for (const step of middleware) provider.use(step)
  server.setHandler(provider.callback())

  return {
    issuer: kit.issuer,
    jwks: kit.signingKey.publicJwks,
    port: server.port,
    users,
    faults: kit.faults,
    stats: kit.stats,
    verifyAccessToken,
    ...testControls(kit),
    close: () => server.close(),
  }
}
