/**
 * Where a login goes and with which client, before anything is shown to the user: the issuer given
 * (or remembered), else the authorization server of a protected resource (RFC 9728), else the
 * endpoints given for a server without metadata; then the client (given, remembered, a Client ID
 * Metadata Document or a registration) and the scope.
 */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { UsageError } from '../errors.ts'
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
import type { ProfileSettings } from '../session/session.ts'
import { chooseClient, isRegistrationKnown } from './client-registration.ts'
import { loadProvider, type CachedProvider } from './provider-metadata.ts'

export interface PreparedLogin {
  settings: LoginSettings
  provider: CachedProvider
}

/** A client id that was given or remembered from the user, or none yet (placeholder for discovery). */
const NO_CLIENT_YET = 'cli-login-unregistered'

export async function prepareLogin(ctx: LoginContext, { forceRegistration = false } = {}): Promise<PreparedLogin> {
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
      const scope = given.scope === undefined && !(memoryApplies && remembered.scope) ? defaultScope(undefined, provider.config.serverMetadata()) : undefined
      return { settings: scope === undefined ? settings : { ...settings, scope }, provider }
    }
  }
  const issuer = server?.issuer ?? issuerFrom(given) ?? (remembered.issuer as string)
  const memory = remembered.issuer !== undefined && sameIssuer(remembered.issuer, issuer) ? remembered : {}
  const redirect = resolveRedirectSettings(given, memory)
  const discovery = await loadProvider(ctx, { issuer, clientId: given.clientId ?? NO_CLIENT_YET, endpoints: server?.endpoints })
  const metadata = discovery.config.serverMetadata()
  let choice = await chooseClient(ctx, { issuer, metadata, redirect, given, remembered: memory, forceRegistration })
  if (choice?.registration && !forceRegistration && !(await isRegistrationKnown(ctx, metadata, choice.clientId, redirect))) {
    ctx.debug(`client: the authorization server no longer knows ${choice.clientId}; registering again`)
    choice = await chooseClient(ctx, { issuer, metadata, redirect, given, remembered: memory, forceRegistration: true })
  }
  const found: DiscoveredSettings = {
    issuer,
    clientId: choice?.clientId,
    clientSecret: choice?.clientSecret,
    scope: defaultScope(server?.scope, metadata),
    resource: server?.resource,
    resourceUrl: server?.resourceUrl,
    endpoints: server?.endpoints,
    registration: choice?.registration,
  }
  const settings = resolveLoginSettings(given, remembered, found)
  return { settings, provider: await loadProvider(ctx, settings) }
}

interface AuthorizationServer {
  issuer: string
  endpoints?: ExplicitEndpoints
  /** The `resource` parameter to send. */
  resource?: string
  resourceUrl?: string
  /** The scope the resource asks for. */
  scope?: string
}

/**
 * Endpoints given (or remembered) for a server without metadata; else, with no issuer given, the
 * protected resource's authorization server. Undefined when the issuer is given or remembered.
 */
async function findAuthorizationServer(ctx: LoginContext, given: LoginSettingsInput, remembered: ProfileSettings): Promise<AuthorizationServer | undefined> {
  const givenIssuer = issuerFrom(given)
  const endpoints = explicitEndpoints(given) ?? (givenIssuer || given.resource ? undefined : remembered.endpoints)
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
  const found = await discoverProtectedResource(resourceUrl, ctx.providerFetch())
  ctx.debug(`protected resource: metadata at ${found.metadataUrl}; authorization server ${found.authorizationServers[0]}`)
  return { issuer: found.authorizationServers[0], resource: found.resource, resourceUrl, scope: found.scope }
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
 * The scope when none is given: what the resource asks for (its 401, else its metadata), or, from a
 * plain OAuth 2 server (no `openid` among its scopes), nothing OpenID-specific; `offline_access`
 * wherever the server lists it. Undefined: the usual default.
 */
function defaultScope(resourceScope: string | undefined, metadata: client.ServerMetadata): string | undefined {
  const listed = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported : undefined
  const offline = listed?.includes('offline_access') ? ' offline_access' : ''
  if (resourceScope) return normalizeScope(resourceScope + offline)
  if (listed && !listed.includes('openid')) return offline ? 'offline_access' : undefined
  return undefined
}
