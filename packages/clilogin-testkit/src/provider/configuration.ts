/**
 * oidc-provider's configuration: an Auth0-shaped tenant (its paths, `audience` as a resource
 * indicator with JWT access tokens, refresh tokens rotated, device flow, end session, PKCE always)
 * on the kit's store, key, users, clients and pages. A protocol feature (oidc-provider's `features`)
 * is switched on here.
 */
import { randomBytes } from 'node:crypto'
import { DemoAdapter } from './adapter.ts'
import { clientMetadata } from './clients.ts'
import { stringParam } from './http.ts'
import { findUser, type Kit } from './kit.ts'
import type { KoaContext, ProviderModule } from './oidc-provider.ts'
import { deviceSuccessSource, logoutSource, postLogoutSuccessSource, renderError, userCodeConfirmSource, userCodeInputSource } from './pages.ts'
import { ROUTES } from './routes.ts'
import type { TestProviderOptions } from './types.ts'

export function providerConfiguration(kit: Kit, options: TestProviderOptions, errors: ProviderModule['errors']): Record<string, unknown> {
  const accessTokenTtlS = options.accessTokenTtlS ?? 600
  const refreshTokenTtlS = options.refreshTokenTtlS ?? 14 * 24 * 60 * 60
  const deviceCodeTtlS = options.deviceCodeTtlS ?? 600
  const { apiScopes, audiences } = kit
  const dpopNonceClients = new Set((options.clients ?? []).filter((c) => c.dpopNonce).map((c) => c.clientId))
  return {
    adapter: (model: string) => new DemoAdapter(model, kit.store),
    clients: clientMetadata(options),
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
      clientCredentials: { enabled: true },
      registration: { enabled: options.registration === true, initialAccessToken: false },
      // Proofs are honoured from every client (bound tokens); a client's `dpop` requires them, nonces on request.
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: (ctx: KoaContext) => options.dpopNonce === true || dpopNonceClients.has(ctx.oidc?.client?.clientId ?? ''),
      },
      pushedAuthorizationRequests: {
        enabled: options.par !== undefined && options.par !== false ? true : (options.clients ?? []).some((c) => c.par === true),
        requirePushedAuthorizationRequests: options.par === 'required',
      },
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
      const user = findUser(kit, sub)
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
    jwks: { keys: [kit.signingKey.privateJwk] },
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
}
