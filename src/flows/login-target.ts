/**
 * Where a login goes and with which client, before anything is shown to the user: the issuer given
 * (or remembered), else the authorization server of a protected resource (RFC 9728), else the
 * endpoints given for a server without metadata; then the client (given, remembered, a Client ID
 * Metadata Document or a registration) and the scope.
 */
import type { LoginContext } from '../context.ts'
import { ErrorCode, ProviderError, UsageError } from '../errors.ts'
import {
  issuerFrom,
  normalizeScope,
  resolveLoginSettings,
  resolveRedirectSettings,
  sameIssuer,
  validateServerUrl,
  type DiscoveredSettings,
  type LoginSettings,
  type LoginSettingsInput,
} from '../options.ts'
import type { ExplicitEndpoints } from '../protocol/provider.ts'
import type { NoResourceMetadata } from '../protocol/resource-metadata.ts'
import type { ProfileSettings } from '../session/session.ts'
import { chooseClient, isRegistrationKnown } from './client-registration.ts'
import { forClient, loadProvider, type CachedProvider } from './provider-metadata.ts'

export interface PreparedLogin {
  settings: LoginSettings
  provider: CachedProvider
}

/** A client id that was given or remembered from the user, or none yet (placeholder for discovery). */
const NO_CLIENT_YET = 'cli-login-unregistered'

/**
 * `stepUp`: a step-up login, right after the resource took a token of the session's client: its
 * registration is not probed (the probe is an authorization request of its own, without PKCE).
 */
export async function prepareLogin(ctx: LoginContext, { forceRegistration = false, stepUp = false } = {}): Promise<PreparedLogin> {
  const given = ctx.options
  const remembered = await ctx.rememberedSettings()
  const server = await findAuthorizationServer(ctx, given, remembered)
  if (!server) {
    // The classic case: an issuer and a client id given or remembered; nothing to find out first.
    const givenIssuer = issuerFrom(given)
    const memoryApplies = !givenIssuer || (remembered.issuer !== undefined && sameIssuer(givenIssuer, remembered.issuer))
    if (given.clientId || (memoryApplies && remembered.clientId && !remembered.registration) || !(givenIssuer ?? remembered.issuer)) {
      const settings = resolveLoginSettings(given, remembered)
      const provider = await loadProvider(ctx, settings)
      const scope = given.scope === undefined && !(memoryApplies && remembered.scope !== undefined) ? defaultScope(undefined, provider) : undefined
      return { settings: scope === undefined ? settings : { ...settings, scope }, provider }
    }
  }
  const issuer = server?.issuer ?? issuerFrom(given) ?? (remembered.issuer as string)
  const memory = remembered.issuer !== undefined && sameIssuer(remembered.issuer, issuer) ? remembered : {}
  const redirect = resolveRedirectSettings(given, memory)
  const discovery = await loadProvider(ctx, { issuer, clientId: given.clientId ?? NO_CLIENT_YET, endpoints: server?.endpoints, resourceUrl: server?.resourceUrl })
  const metadata = discovery.config.serverMetadata()
  const choose = (force: boolean) => chooseClient(ctx, { issuer, metadata, redirect, given, remembered: memory, forceRegistration: force }).catch((error: unknown) => {
    throw server?.withoutMetadata ? nothingThere(server, error) : error
  })
  let choice = await choose(forceRegistration)
  // Only a registration made earlier may have been forgotten by the server since.
  if (choice?.registration && !choice.registeredNow && !stepUp && !(await isRegistrationKnown(ctx, metadata, choice.clientId, redirect))) {
    ctx.debug(`client: the authorization server no longer knows ${choice.clientId}; registering again`)
    choice = await choose(true)
  }
  const found: DiscoveredSettings = {
    issuer,
    clientId: choice?.clientId,
    clientSecret: choice?.clientSecret,
    scope: defaultScope(server, discovery),
    resource: server?.resource,
    resourceUrl: server?.resourceUrl,
    endpoints: server?.endpoints,
    registration: choice?.registration,
    dpopRequired: server?.dpopRequired,
  }
  const settings = resolveLoginSettings(given, remembered, found)
  return { settings, provider: await forClient(ctx, discovery, settings) }
}

interface AuthorizationServer {
  issuer: string
  endpoints?: ExplicitEndpoints
  /** The `resource` parameter to send. */
  resource?: string
  /** Set when the server was found from this protected resource's URL (zero configuration). */
  resourceUrl?: string
  /** The scope the resource asks for. */
  scope?: string
  /** The resource wants DPoP-bound tokens. */
  dpopRequired?: boolean
  /** The 2025-03-26 revision's defaults (no metadata anywhere): what was tried, for the message when they are not there either. */
  withoutMetadata?: { tried: string[] }
}

/**
 * Endpoints given (or remembered) for a server without metadata; else, with no issuer given, the
 * protected resource's authorization server. Undefined when the issuer is given or remembered.
 */
async function findAuthorizationServer(ctx: LoginContext, given: LoginSettingsInput, remembered: ProfileSettings): Promise<AuthorizationServer | undefined> {
  const givenIssuer = issuerFrom(given)
  const rediscover = given.resource !== undefined || remembered.resourceDiscovery === true
  const endpoints = explicitEndpoints(given) ?? (givenIssuer || rediscover ? undefined : remembered.endpoints)
  if (endpoints) {
    const issuer = givenIssuer ?? new URL(endpoints.tokenEndpoint).origin
    return { issuer, endpoints }
  }
  if (givenIssuer) return undefined
  const resourceUrl = given.resource ?? (remembered.resourceDiscovery ? remembered.resource : undefined)
  if (!resourceUrl) return undefined
  validateServerUrl('resource', resourceUrl)
  const { discoverProtectedResource } = await import('../protocol/resource-metadata.ts')
  ctx.debug(`protected resource: looking up its metadata from ${resourceUrl}`)
  const found = await discoverProtectedResource(resourceUrl, ctx.providerFetch(), ctx.app.appName)
  if ('authorizationServers' in found) {
    ctx.debug(`protected resource: metadata at ${found.metadataUrl}; authorization server ${found.authorizationServers[0]}`)
    if (found.dpopRequired) ctx.debug('protected resource: it wants DPoP-bound tokens')
    return { issuer: found.authorizationServers[0], resource: found.resource, resourceUrl, scope: found.scope, dpopRequired: found.dpopRequired }
  }
  return olderRevisionServer(ctx, resourceUrl, found)
}

/**
 * The 2025-03-26 revision (no protected resource metadata): the MCP server's origin is its own
 * authorization server, with `/authorize`, `/token` and `/register` there when it publishes no
 * RFC 8414 metadata either.
 */
async function olderRevisionServer(ctx: LoginContext, resourceUrl: string, found: NoResourceMetadata): Promise<AuthorizationServer> {
  const issuer = new URL(resourceUrl).origin
  ctx.debug(`protected resource: no metadata (tried ${found.tried.join(', ')}); ${issuer} as its own authorization server`)
  const server: AuthorizationServer = { issuer, resource: resourceUrl, resourceUrl, scope: found.scope }
  try {
    const { config } = await loadProvider(ctx, { issuer, clientId: NO_CLIENT_YET, resourceUrl, originAsIssuer: true })
    return { ...server, issuer: config.serverMetadata().issuer }
  } catch (error) {
    if (!(error instanceof ProviderError) || error.status === undefined || error.status < 400) throw error
  }
  ctx.debug(`authorization server: no metadata at ${issuer}; its default endpoints /authorize, /token, /register`)
  const endpoints: ExplicitEndpoints = { authorizationEndpoint: `${issuer}/authorize`, tokenEndpoint: `${issuer}/token`, registrationEndpoint: `${issuer}/register` }
  return { ...server, endpoints, withoutMetadata: { tried: found.tried } }
}

/** The registration at the 2025-03-26 default endpoint failed: most likely nothing is there at all. */
function nothingThere(server: AuthorizationServer, error: unknown): unknown {
  if (!(error instanceof ProviderError) || error.status === undefined || error.status < 400) return error
  const tried = server.withoutMetadata?.tried.join(', ')
  return new ProviderError(
    ErrorCode.PROVIDER_ERROR,
    `${server.resourceUrl} publishes no OAuth protected resource metadata (RFC 9728; tried ${tried}), ${server.issuer} no authorization server metadata, and its default registration endpoint answered HTTP ${error.status}: give the issuer of its authorization server`,
    { error: 'no_resource_metadata', status: error.status, cause: error },
  )
}

function explicitEndpoints(given: LoginSettingsInput): ExplicitEndpoints | undefined {
  const { authorizationEndpoint, tokenEndpoint, deviceAuthorizationEndpoint, revocationEndpoint } = given
  if (!authorizationEndpoint && !tokenEndpoint && !deviceAuthorizationEndpoint && !revocationEndpoint) return undefined
  if (!tokenEndpoint) throw UsageError.forOption('tokenEndpoint', 'is required with the other endpoints (for a server that publishes no metadata)')
  if (!given.clientId) throw UsageError.forOption('clientId', 'is required (a server without metadata offers no client registration)')
  const endpoints: ExplicitEndpoints = { tokenEndpoint: validateServerUrl('tokenEndpoint', tokenEndpoint) }
  if (authorizationEndpoint) endpoints.authorizationEndpoint = validateServerUrl('authorizationEndpoint', authorizationEndpoint)
  if (deviceAuthorizationEndpoint) endpoints.deviceAuthorizationEndpoint = validateServerUrl('deviceAuthorizationEndpoint', deviceAuthorizationEndpoint)
  if (revocationEndpoint) endpoints.revocationEndpoint = validateServerUrl('revocationEndpoint', revocationEndpoint)
  return endpoints
}

/**
 * The scope when none is given (PRODUCT.md, "Which scope is asked for"). Zero configuration (the
 * server found from the resource): what the resource asks for (its 401, else its metadata's
 * `scopes_supported`); an issuer given: the OpenID default from an OpenID provider (OpenID
 * discovery answered, or `openid` listed). Anything else names no scope. `offline_access` is added
 * wherever the authorization server lists it. Undefined: the usual default; '': no `scope` at all.
 */
function defaultScope(server: AuthorizationServer | undefined, provider: CachedProvider): string | undefined {
  const metadata = provider.config.serverMetadata()
  const listed = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported : []
  const offline = listed.includes('offline_access') ? 'offline_access' : ''
  if (server?.resourceUrl !== undefined) return server.scope ? normalizeScope(`${server.scope} ${offline}`) : offline
  if (provider.openid || listed.includes('openid')) return undefined
  return offline
}
