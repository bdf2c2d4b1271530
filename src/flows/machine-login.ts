/**
 * Logins without a person (no browser): the client credentials grant (SEP-1046; the client's secret
 * or private_key_jwt), and workload identity federation (SEP-1933): an assertion — the CI
 * platform's OIDC token — exchanged by the JWT bearer grant or token exchange. Such a session has
 * no refresh token: when its token expires, the same grant is made again (a new assertion fetched
 * first), under the profile's lock like a refresh.
 */
import type * as client from 'openid-client'
import { cancellation, type LoginContext } from '../context.ts'
import { GrantRefusedError, LoginRequiredError, ProviderError, UsageError } from '../errors.ts'
import { normalizeScope, type LoginSettings, type MachineGrant } from '../options.ts'
import type { ClientPrivateKey } from '../protocol/provider.ts'
import type { TokenSet } from '../protocol/token-set.ts'
import { refreshedSession, sessionFromTokens } from '../session/from-tokens.ts'
import type { Session } from '../session/session.ts'
import { fetchAssertion, parseAssertionSource } from './assertion-source.ts'
import { loginOutcome, revokeReplaced, sessionBase, storeNewSession, type LoginOutcome } from './login.ts'
import { prepareLogin } from './login-target.ts'
import { discover, loadProvider } from './provider-metadata.ts'

/** The login is one without a person: a machine grant asked for, or an assertion to exchange. */
export function isMachineLogin(options: LoginContext['options']): boolean {
  return options.grant !== undefined || options.assertion !== undefined || options.federated !== undefined || options.enterprise !== undefined
}

export async function machineLogin(ctx: LoginContext): Promise<LoginOutcome> {
  const given = ctx.options
  checkOptions(given)
  try {
    const privateKey = given.privateKey === undefined ? undefined : await importKey(given.privateKey)
    const { settings: found, provider } = await prepareLogin(ctx)
    ctx.throwIfCancelled()
    const metadata = provider.config.serverMetadata()
    const { federatedGrantFor, requestMachineGrant } = await import('../protocol/machine-grant.ts')
    const grant: MachineGrant = given.grant ?? (given.enterprise ? 'jwt-bearer' : federatedGrantFor(metadata))
    if (grant === 'client-credentials' && !found.clientSecret && !privateKey) throw UsageError.forOption('clientSecret', '(or "privateKey") is required for the client credentials grant')
    const settings: LoginSettings = { ...found, scope: machineScope(given.scope, found) }
    const config = await grantConfiguration(ctx, metadata, { issuer: settings.issuer, clientId: settings.clientId, clientSecret: settings.clientSecret, clientKey: privateKey })
    const federatedAudience = given.federatedAudience
    const assertion = grant === 'client-credentials' ? undefined : await assertionFor(ctx, { federated: given.federated, federatedAudience, issuer: settings.issuer, resource: settings.resource, scope: settings.scope })
    ctx.debug(`${grant}: token endpoint ${metadata.token_endpoint ?? '(none)'}`)
    const tokens = withoutRefresh(await requestMachineGrant(config, { grant, assertion, scope: settings.scope || undefined, resource: settings.resource }))
    const base = { ...sessionBase(settings), grant, privateKey: given.privateKey, federated: grant === 'client-credentials' ? undefined : given.federated, federatedAudience }
    const session = definedOnly(sessionFromTokens(tokens, base, ctx.nowS()))
    const replaced = await storeNewSession(ctx, session, settings)
    await revokeReplaced(ctx, replaced, session, provider.config)
    return loginOutcome(ctx, { session, replaced }, settings)
  } catch (error) {
    if (ctx.signal?.aborted) throw cancellation(ctx.signal)
    throw error
  }
}

/**
 * A new token for a session without a person, under the profile's lock (the caller holds it): the
 * same grant again, with a new assertion. The server refusing it (400/401: a revoked client, an
 * assertion it does not take) is GrantRefusedError, a login required; anything else stays an error.
 */
export async function renewMachineToken(ctx: LoginContext, current: Session): Promise<Session> {
  const grant = current.grant as MachineGrant
  const { config: cached } = await loadProvider(ctx, current)
  const privateKey = current.privateKey === undefined ? undefined : await importKey(current.privateKey)
  const config = await grantConfiguration(ctx, cached.serverMetadata(), { issuer: current.issuer, clientId: current.clientId, clientSecret: current.clientSecret, clientKey: privateKey })
  let assertion: string | undefined
  if (grant !== 'client-credentials') {
    if (!ctx.options.assertion && !ctx.options.enterprise && !current.federated) throw new LoginRequiredError(ctx.loginTarget, 'the token has expired and nothing gives a new assertion to exchange')
    assertion = await assertionFor(ctx, { federated: current.federated, federatedAudience: current.federatedAudience, issuer: current.issuer, resource: current.resource, scope: current.requestedScope })
  }
  const { requestMachineGrant } = await import('../protocol/machine-grant.ts')
  ctx.debug(`token: ${grant} again at ${config.serverMetadata().token_endpoint ?? '(none)'}`)
  let tokens: TokenSet
  try {
    tokens = withoutRefresh(await requestMachineGrant(config, { grant, assertion, scope: current.requestedScope || undefined, resource: current.resource }))
  } catch (error) {
    if (error instanceof ProviderError && (error.status === 400 || error.status === 401)) throw new GrantRefusedError(ctx.loginTarget, error)
    throw error
  }
  const next = refreshedSession(current, tokens, ctx.nowS())
  await ctx.store.writeSession(ctx.profile, next)
  return next
}

function checkOptions(given: LoginContext['options']): void {
  if (!given.clientId) throw UsageError.forOption('clientId', 'is required for a login without a browser')
  if (given.grant === 'client-credentials' && (given.assertion || given.federated)) {
    throw UsageError.forOption('grant', '"client-credentials" takes no assertion (that is "jwt-bearer" or "token-exchange")')
  }
  if (given.enterprise && given.grant !== undefined && given.grant !== 'jwt-bearer') throw UsageError.forOption('grant', 'must be "jwt-bearer" with "enterprise" (an ID-JAG is a JWT bearer assertion)')
  if (given.grant !== 'client-credentials' && !given.assertion && !given.federated && !given.enterprise) {
    throw UsageError.forOption('federated', `(or the "assertion" option) is required for the ${given.grant ?? 'federated'} grant`)
  }
  if (given.federated !== undefined) parseAssertionSource(given.federated)
  if (given.device) throw UsageError.forOption('device', 'cannot be combined with a login without a browser')
}

async function importKey(text: string): Promise<ClientPrivateKey> {
  const { importClientPrivateKey } = await import('../protocol/machine-grant.ts')
  return importClientPrivateKey(text)
}

/** The assertion: the caller's callback first, else the federated source (its GitHub audience: the issuer unless given). */
async function assertionFor(ctx: LoginContext, from: { federated?: string; federatedAudience?: string; issuer: string; resource?: string; scope?: string }): Promise<string> {
  if (ctx.options.assertion) return ctx.options.assertion()
  const { enterprise } = ctx.options
  if (enterprise) {
    const idp = await discover(ctx, { issuer: enterprise.issuer, clientId: enterprise.clientId, clientSecret: enterprise.clientSecret }, { cache: false })
    const { requestIdJag } = await import('../protocol/machine-grant.ts')
    ctx.debug(`enterprise: exchanging the ID token at ${enterprise.issuer} for an ID-JAG for ${from.issuer}`)
    return requestIdJag(idp, { idToken: await enterprise.idToken(), audience: from.issuer, resource: from.resource, scope: from.scope || undefined })
  }
  if (!from.federated) throw UsageError.forOption('federated', '(or the "assertion" option) is required')
  return fetchAssertion(ctx, parseAssertionSource(from.federated), from.federatedAudience ?? from.issuer)
}

async function grantConfiguration(
  ctx: LoginContext,
  metadata: client.ServerMetadata,
  client: { issuer: string; clientId: string; clientSecret?: string; clientKey?: ClientPrivateKey },
): Promise<client.Configuration> {
  const { configurationFromMetadata } = await import('../protocol/provider.ts')
  return configurationFromMetadata({ ...client, fetch: ctx.providerFetch() }, metadata)
}

/**
 * The scope of a login without a person: the one given, else what the protected resource asks for
 * (found from it, zero configuration), never `offline_access` (there is no refresh token by
 * design) nor the OpenID default (no one logs in). Empty: no `scope` parameter.
 */
function machineScope(given: string | string[] | undefined, found: LoginSettings): string {
  if (given !== undefined) return normalizeScope(given)
  if (found.resourceUrl === undefined || !found.scope) return ''
  return found.scope.split(' ').filter((word) => word !== 'offline_access').join(' ')
}

/** No refresh token is kept for these grants (a server may still send one with token exchange: it is not used). */
function withoutRefresh(tokens: TokenSet): TokenSet {
  const { refreshToken: _unused, ...rest } = tokens
  return rest
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
