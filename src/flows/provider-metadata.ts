/**
 * The provider-metadata cache policy: discovery results are kept per profile for a day, so a
 * refresh and the next login make no discovery request. A login revalidates them while the user
 * is in the browser; a provider error on cached metadata makes the next call discover again.
 */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { sameIssuer } from '../options.ts'
import type { ExplicitEndpoints } from '../protocol/provider.ts'

const PROVIDER_CACHE_MAX_AGE_S = 24 * 60 * 60

export interface ProviderSettings {
  issuer: string
  clientId: string
  clientSecret?: string
  /** A server without metadata: nothing to discover or cache. */
  endpoints?: ExplicitEndpoints
  /**
   * Set when the issuer was found from this protected resource: its metadata is looked up the way
   * the MCP authorization spec says (discovery order `mcp`, the issuer compared exactly).
   */
  resourceUrl?: string
  /** The issuer is the resource's origin, taken as its own authorization server (the 2025-03-26 revision). */
  originAsIssuer?: boolean
}

export interface CachedProvider {
  config: client.Configuration
  /** OpenID discovery answered: an OpenID provider (else a plain OAuth 2 server, or one without metadata). */
  openid: boolean
  /** Present when `config` came from the cache: runs discovery again (undefined when that fails). */
  revalidate?: () => Promise<client.Configuration | undefined>
}

/** Discovery; the metadata is cached for the profile unless it is another issuer's (`cache: false`). */
export async function discover(ctx: LoginContext, settings: ProviderSettings, options: { cache?: boolean } = {}): Promise<client.Configuration> {
  return (await discoverAndCache(ctx, settings, options)).config
}

async function discoverAndCache(ctx: LoginContext, settings: ProviderSettings, { cache = true } = {}): Promise<CachedProvider> {
  const { discoverProvider } = await import('../protocol/provider.ts')
  ctx.debug(settings.endpoints ? `endpoints as given: token endpoint ${settings.endpoints.tokenEndpoint}` : `discovery: ${settings.issuer}`)
  const order = settings.resourceUrl !== undefined ? 'mcp' : 'oidc-first'
  const found = await discoverProvider({ ...settings, order, fetch: ctx.providerFetch() })
  if (cache && !settings.endpoints) {
    const entry = { issuer: settings.issuer, fetchedAt: ctx.nowS(), metadata: { ...found.config.serverMetadata() }, openid: found.openid }
    await ctx.store.writeProviderCache?.(ctx.profile, entry).catch(() => {})
  }
  return found
}

/**
 * The provider's configuration from the metadata this profile cached within a day (no request),
 * else discovered. With the cache, `revalidate()` runs discovery again: a login starts it once the
 * browser is open and awaits it before redeeming the code (by then the user has long finished).
 * A refresh does without it.
 */
export async function loadProvider(ctx: LoginContext, settings: ProviderSettings): Promise<CachedProvider> {
  if (settings.endpoints) return discoverAndCache(ctx, settings)
  const entry = await ctx.store.readProviderCache?.(ctx.profile)
  const recent = entry && sameIssuer(entry.issuer, settings.issuer) && ctx.nowS() - entry.fetchedAt < PROVIDER_CACHE_MAX_AGE_S
  if (!recent) return discoverAndCache(ctx, settings)
  ctx.debug(`provider metadata: cached ${ctx.nowS() - entry.fetchedAt} s ago`)
  const { configurationFromMetadata } = await import('../protocol/provider.ts')
  const metadata = entry.metadata as client.ServerMetadata
  const config = configurationFromMetadata({ ...settings, fetch: ctx.providerFetch() }, metadata)
  // A cache written before it said how it was found: the fields only OpenID discovery has.
  const openid = entry.openid ?? Array.isArray(metadata.id_token_signing_alg_values_supported)
  return { config, openid, revalidate: () => discover(ctx, settings).catch(() => undefined) }
}

/**
 * The provider as found a moment ago (with a placeholder client), for the client the login chose:
 * no second look at the cache, and no revalidation of metadata that was just fetched.
 */
export async function forClient(ctx: LoginContext, found: CachedProvider, settings: ProviderSettings): Promise<CachedProvider> {
  if (settings.endpoints) return loadProvider(ctx, settings)
  const { configurationFromMetadata } = await import('../protocol/provider.ts')
  const config = configurationFromMetadata({ ...settings, fetch: ctx.providerFetch() }, found.config.serverMetadata())
  return { config, openid: found.openid, revalidate: found.revalidate && (() => discover(ctx, settings).catch(() => undefined)) }
}

/** After a provider error on cached metadata, the next call discovers again. */
export async function forgetProviderCache(ctx: LoginContext): Promise<void> {
  const entry = await ctx.store.readProviderCache?.(ctx.profile)
  if (entry) await ctx.store.writeProviderCache?.(ctx.profile, { ...entry, fetchedAt: 0 }).catch(() => {})
}
