/**
 * The provider-metadata cache policy: discovery results, and the key set (JWKS) ID tokens are
 * verified with, are kept per profile for a day, so a refresh makes one request (the token
 * endpoint's) and the next login no discovery request. A login revalidates the metadata while the
 * user is in the browser; a provider error on cached metadata makes the next call discover again;
 * an ID token signed with a key the cached set lacks makes openid-client fetch the set again.
 */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { sameIssuer } from '../options.ts'
import type { ExplicitEndpoints } from '../protocol/provider.ts'
import type { ProviderMetadataCache } from '../session/session.ts'

const PROVIDER_CACHE_MAX_AGE_S = 24 * 60 * 60

export interface ProviderSettings {
  issuer: string
  clientId: string
  clientSecret?: string
  /** A server without metadata: nothing to discover or cache. */
  endpoints?: ExplicitEndpoints
}

export interface CachedProvider {
  config: client.Configuration
  /** Present when `config` came from the cache: runs discovery again (undefined when that fails). */
  revalidate?: () => Promise<client.Configuration | undefined>
}

/** Discovery; the metadata is cached for the profile unless it is another issuer's (`cache: false`). */
export async function discover(ctx: LoginContext, settings: ProviderSettings, { cache = true } = {}): Promise<client.Configuration> {
  const { discoverProvider } = await import('../protocol/provider.ts')
  ctx.debug(settings.endpoints ? `endpoints as given: token endpoint ${settings.endpoints.tokenEndpoint}` : `discovery: ${settings.issuer}`)
  const config = await discoverProvider({ ...settings, fetch: ctx.providerFetch() })
  if (cache && !settings.endpoints) {
    const metadata = { ...config.serverMetadata() }
    const previous = await readCache(ctx, settings)
    // The key set fetched earlier stays while the metadata still names the same one.
    const jwks = previous?.jwks && previous.metadata.jwks_uri === metadata.jwks_uri ? previous.jwks : undefined
    await useJwks(ctx, config, jwks)
    const entry: ProviderMetadataCache = { issuer: settings.issuer, fetchedAt: ctx.nowS(), metadata, ...(jwks ? { jwks } : {}) }
    await ctx.store.writeProviderCache?.(ctx.profile, entry).catch(() => {})
  }
  return config
}

/**
 * The provider's configuration from the metadata this profile cached within a day (no request),
 * else discovered. With the cache, `revalidate()` runs discovery again: a login starts it once the
 * browser is open and awaits it before redeeming the code (by then the user has long finished).
 * A refresh does without it.
 */
export async function loadProvider(ctx: LoginContext, settings: ProviderSettings): Promise<CachedProvider> {
  if (settings.endpoints) return { config: await discover(ctx, settings) }
  const entry = await readCache(ctx, settings)
  if (!entry || !isRecent(ctx, entry.fetchedAt)) return { config: await discover(ctx, settings) }
  ctx.debug(`provider metadata: cached ${ctx.nowS() - entry.fetchedAt} s ago`)
  const { configurationFromMetadata } = await import('../protocol/provider.ts')
  const config = configurationFromMetadata({ ...settings, fetch: ctx.providerFetch() }, entry.metadata as client.ServerMetadata)
  await useJwks(ctx, config, entry.jwks)
  return { config, revalidate: () => discover(ctx, settings).catch(() => undefined) }
}

/** After openid-client verified an ID token: the key set it fetched for that (if it did) is kept for the next process. */
export async function rememberJwks(ctx: LoginContext, config: client.Configuration): Promise<void> {
  const { fetchedJwks } = await import('../protocol/provider.ts')
  const jwks = fetchedJwks(config)
  if (!jwks) return
  const entry = await ctx.store.readProviderCache?.(ctx.profile).catch(() => undefined)
  if (!entry || entry.metadata.jwks_uri !== config.serverMetadata().jwks_uri) return
  ctx.debug('provider key set: fetched, cached for the next refresh')
  await ctx.store.writeProviderCache?.(ctx.profile, { ...entry, jwks }).catch(() => {})
}

/** After a provider error on cached metadata, the next call discovers again. */
export async function forgetProviderCache(ctx: LoginContext): Promise<void> {
  const entry = await ctx.store.readProviderCache?.(ctx.profile)
  if (entry) await ctx.store.writeProviderCache?.(ctx.profile, { ...entry, fetchedAt: 0 }).catch(() => {})
}

async function readCache(ctx: LoginContext, settings: ProviderSettings): Promise<ProviderMetadataCache | undefined> {
  const entry = await ctx.store.readProviderCache?.(ctx.profile).catch(() => undefined)
  return entry && sameIssuer(entry.issuer, settings.issuer) ? entry : undefined
}

function isRecent(ctx: LoginContext, fetchedAt: number): boolean {
  return ctx.nowS() - fetchedAt < PROVIDER_CACHE_MAX_AGE_S
}

async function useJwks(ctx: LoginContext, config: client.Configuration, jwks: ProviderMetadataCache['jwks']): Promise<void> {
  if (!jwks || !isRecent(ctx, jwks.fetchedAt)) return
  const { useCachedJwks } = await import('../protocol/provider.ts')
  useCachedJwks(config, jwks)
}
