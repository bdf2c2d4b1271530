/**
 * Enterprise-managed authorization (SEP-990, ID-JAG) from a session at the company's identity
 * provider: a token for a resource whose protected resource metadata names another authorization
 * server, one that lists the JWT bearer grant (it trusts the identity provider). The session's ID
 * token is exchanged at the identity provider for an ID-JAG for that server and the resource (RFC
 * 8693), and the ID-JAG there for an access token (RFC 7523); no browser. The token is kept as one
 * of the session's target tokens, and got the same way again when it expires.
 */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { GrantRefusedError, LoginRequiredError, ProviderError } from '../errors.ts'
import { sameIssuer } from '../options.ts'
import type { Session } from '../session/session.ts'
import { targetKey, type TokenTarget } from '../session/token-decision.ts'
import { withTargetToken } from '../session/from-tokens.ts'
import { discover, loadProvider } from './provider-metadata.ts'

export interface EnterpriseServer {
  issuer: string
  metadata: client.ServerMetadata
  /** The resource identifier its metadata publishes (sent as `resource`). */
  resource: string
}

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** How long the resource's metadata is looked for before the target is taken as one of the session's own server. */
const PRM_LOOKUP_MS = 3000

/**
 * The other authorization server of this target, when there is one: the one its stored token came
 * from, else the one the resource's metadata names, if that is not the session's issuer and lists
 * the JWT bearer grant. Undefined otherwise (the target is got with the refresh token, RFC 8707);
 * a resource without metadata is such a case, looked for once: at the target's first token.
 */
export async function enterpriseServer(ctx: LoginContext, session: Session, target: TokenTarget): Promise<EnterpriseServer | undefined> {
  if (target.resource === undefined || target.audience !== undefined || !session.idToken) return undefined
  const stored = session.targets?.[targetKey(target)]
  // Got before with the refresh token (RFC 8707): the resource's metadata was looked for then.
  if (stored && !stored.authorizationServer) return undefined
  let issuer = stored?.authorizationServer
  let resource = stored?.resource ?? target.resource
  if (!issuer) {
    const { discoverProtectedResource } = await import('../protocol/resource-metadata.ts')
    // Bounded: most resources asked for are the identity provider's own APIs (RFC 8707), with no metadata.
    const base = ctx.providerFetch()
    const bounded: typeof fetch = (input, init) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(PRM_LOOKUP_MS)]) : AbortSignal.timeout(PRM_LOOKUP_MS) })
    const found = await discoverProtectedResource(target.resource, bounded, ctx.app.appName).catch((error: unknown) => {
      ctx.debug(`enterprise: no protected resource metadata for ${target.resource} (${error instanceof Error ? error.message : String(error)})`)
      return undefined
    })
    if (!found || !('authorizationServers' in found)) return undefined
    const named = found.authorizationServers[0]
    if (!named || sameIssuer(named, session.issuer)) return undefined
    issuer = named
    resource = found.resource
  }
  const config = await discover(ctx, { issuer, clientId: session.clientId, resourceUrl: target.resource }, { cache: false })
  const metadata = config.serverMetadata()
  const grants = metadata.grant_types_supported
  if (!Array.isArray(grants) || !grants.includes(JWT_BEARER_GRANT)) {
    ctx.debug(`enterprise: ${issuer} does not list the JWT bearer grant; not an ID-JAG target`)
    return undefined
  }
  return { issuer, metadata, resource }
}

/**
 * The ID-JAG exchange and the JWT bearer grant, under the profile's lock (the caller holds it and
 * has refreshed the session first if its ID token had expired). A refusal by either server (400,
 * 401) is a login required; the session's own tokens are untouched.
 */
export async function enterpriseToken(
  ctx: LoginContext,
  session: Session,
  target: TokenTarget,
  server: EnterpriseServer,
  asked: { clientId?: string; clientSecret?: string },
): Promise<Session> {
  if (!session.idToken) throw new LoginRequiredError(ctx.loginTarget, 'the session has no ID token to exchange')
  const { requestIdJag, requestMachineGrant } = await import('../protocol/machine-grant.ts')
  const { configurationFromMetadata } = await import('../protocol/provider.ts')
  const stored = session.targets?.[targetKey(target)]
  const clientId = asked.clientId ?? stored?.clientId ?? session.clientId
  const { config: idp } = await loadProvider(ctx, session)
  const there = configurationFromMetadata({ issuer: server.issuer, clientId, clientSecret: asked.clientSecret, fetch: ctx.providerFetch() }, server.metadata)
  ctx.debug(`enterprise: an ID-JAG from ${session.issuer} for ${server.issuer} (${server.resource}), then the JWT bearer grant there`)
  let tokens
  try {
    const idJag = await requestIdJag(idp, { idToken: session.idToken, audience: server.issuer, resource: server.resource, scope: target.scope })
    tokens = await requestMachineGrant(there, { grant: 'jwt-bearer', assertion: idJag, scope: target.scope, resource: server.resource })
  } catch (error) {
    if (error instanceof ProviderError && (error.status === 400 || error.status === 401)) throw new GrantRefusedError(ctx.loginTarget, error)
    throw error
  }
  const { refreshToken: _notKept, ...withoutRefresh } = tokens
  const next = withTargetToken(session, target, targetKey(target), withoutRefresh, ctx.nowS())
  const key = targetKey(target)
  const token = next.targets?.[key]
  if (token) next.targets = { ...next.targets, [key]: { ...token, authorizationServer: server.issuer, clientId } }
  await ctx.store.writeSession(ctx.profile, next)
  return next
}
