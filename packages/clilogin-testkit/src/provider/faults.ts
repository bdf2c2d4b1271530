/**
 * The faults a test switches on through `provider.faults` (TestProviderFaults in types.ts): each is
 * a middleware on the endpoint it breaks, or a step the token endpoint (token-endpoint.ts) takes.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kit } from './kit.ts'
import type { KoaContext, Middleware } from './oidc-provider.ts'
import { DEVICE_CODE_GRANT, ROUTES } from './routes.ts'

/** `tokenEndpointDelayMs` and `tokenEndpoint`: waits, then answers the canned answer if one is set (true: answered). */
export async function tokenEndpointFault(kit: Kit, ctx: KoaContext): Promise<boolean> {
  const { faults } = kit
  if (faults.tokenEndpointDelayMs) await sleep(faults.tokenEndpointDelayMs)
  const fault = faults.tokenEndpoint
  if (!fault) return false
  if (fault.times !== undefined && --fault.times <= 0) delete faults.tokenEndpoint
  ctx.status = fault.status
  ctx.set('Content-Type', fault.contentType ?? 'application/json')
  ctx.set('Cache-Control', 'no-store')
  ctx.body = fault.body
  return true
}

/** `tokenAnswerDelayMs`: a successful answer (the grant made, a refresh token rotated) held before it is sent. */
export async function tokenAnswerDelay(kit: Kit, ctx: KoaContext): Promise<void> {
  if (ctx.status === 200 && kit.faults.tokenAnswerDelayMs) await sleep(kit.faults.tokenAnswerDelayMs)
}

/** `jwks`: GET of the key set delayed, or answered with a status instead, for the next `times` requests. */
export function jwksFault(kit: Kit): Middleware {
  return async (ctx, next) => {
    const fault = kit.faults.jwks
    if (!fault || ctx.path !== ROUTES.jwks || ctx.method !== 'GET') return next()
    if ((fault.times ?? 1) <= 1) delete kit.faults.jwks
    else fault.times = (fault.times ?? 1) - 1
    if (fault.delayMs) await sleep(fault.delayMs)
    if (fault.status === undefined) return next()
    ctx.status = fault.status
    ctx.body = {}
  }
}

/** `deviceSlowDown`: a device-code poll (its request body given) answered slow_down (true: answered). */
export function deviceSlowDownFault(kit: Kit, ctx: KoaContext, body: Buffer | undefined): boolean {
  const { faults, stats } = kit
  if ((faults.deviceSlowDown ?? 0) <= 0) return false
  if (!body || new URLSearchParams(body.toString('utf8')).get('grant_type') !== DEVICE_CODE_GRANT) return false
  faults.deviceSlowDown = (faults.deviceSlowDown ?? 1) - 1
  stats.deviceTokenPolls.push(Date.now())
  ctx.status = 400
  ctx.set('Cache-Control', 'no-store')
  ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off' }
  return true
}

/** `authorizationResponseIss`: the `iss` of the authorization response's redirect to the client replaced. */
export function authorizationResponseIssFault(kit: Kit): Middleware {
  return async (ctx, next) => {
    const { path } = ctx
    await next()
    const iss = kit.faults.authorizationResponseIss
    if (iss === undefined || !(path === ROUTES.authorization || path.startsWith(`${ROUTES.authorization}/`))) return
    const location = ctx.response.get('location')
    const ownOrigin = `${ctx.protocol}://${ctx.host}`
    const target = location ? URL.parse(location, ownOrigin) : null
    if (target && target.origin !== ownOrigin && target.searchParams.has('iss')) {
      target.searchParams.set('iss', iss)
      ctx.set('Location', target.href)
    }
  }
}
