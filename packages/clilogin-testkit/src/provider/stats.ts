/** What the provider counts (`provider.stats`, TestProviderStats in types.ts): from its requests and from oidc-provider's events. */
import { stringParam } from './http.ts'
import type { KoaContext, Middleware, ProviderInstance } from './oidc-provider.ts'
import { DEVICE_CODE_GRANT, ROUTES } from './routes.ts'
import type { TestProviderStats } from './types.ts'

export function emptyStats(): TestProviderStats {
  return {
    requests: {},
    tokenRequests: 0,
    grants: {},
    refreshErrors: 0,
    revocations: 0,
    registrations: 0,
    authorizationRequests: [],
    deviceTokenPolls: [],
    pushedAuthorizationRequests: [],
    dpopProofs: 0,
  }
}

/** Counts every request as the client sent it (the first middleware: before anything rewrites or answers it). */
export function countRequests(stats: TestProviderStats): Middleware {
  return async (ctx, next) => {
    const { path, method } = ctx
    const requestKey = `${method} ${path}`
    stats.requests[requestKey] = (stats.requests[requestKey] ?? 0) + 1
    if (path === ROUTES.authorization && method === 'GET') stats.authorizationRequests.push(new URLSearchParams(ctx.querystring))
    if (path === ROUTES.token && method === 'POST') stats.tokenRequests += 1
    if (path === ROUTES.token && method === 'POST' && ctx.get('dpop') !== '') stats.dpopProofs += 1
    await next()
    if (path === ROUTES.revocation && method === 'POST' && ctx.status === 200) stats.revocations += 1
  }
}

/** Grants, failed refreshes, device polls and registrations, from oidc-provider's events. */
export function countProviderEvents(provider: ProviderInstance, stats: TestProviderStats): void {
  provider.on('grant.success', (...args: unknown[]) => {
    const ctx = args[0] as KoaContext
    const grantType = stringParam(ctx.oidc?.params, 'grant_type')
    if (!grantType) return
    stats.grants[grantType] = (stats.grants[grantType] ?? 0) + 1
    if (grantType === DEVICE_CODE_GRANT) stats.deviceTokenPolls.push(Date.now())
  })
  provider.on('registration_create.success', () => {
    stats.registrations += 1
  })
  provider.on('grant.error', (...args: unknown[]) => {
    const ctx = args[0] as KoaContext
    const grantType = stringParam(ctx.oidc?.params, 'grant_type')
    if (grantType === 'refresh_token') stats.refreshErrors += 1
    if (grantType === DEVICE_CODE_GRANT) stats.deviceTokenPolls.push(Date.now())
  })
}
