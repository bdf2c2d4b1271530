/**
 * The pushed authorization request endpoint (RFC 9126) as the tests see it: every push recorded as
 * the client sent it, and the `parRefusesPublicClients` option (a server that offers PAR only to
 * confidential clients answers a public one `unauthorized_client`).
 */
import { peekBody } from './http.ts'
import type { Kit } from './kit.ts'
import type { Middleware } from './oidc-provider.ts'
import { ROUTES } from './routes.ts'

export function pushedAuthorizationRequests(kit: Kit, refusePublicClients: boolean): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== ROUTES.pushed_authorization_request || ctx.method !== 'POST') return next()
    const body = await peekBody(ctx.req)
    const params = new URLSearchParams(body?.toString('utf8') ?? '')
    kit.stats.pushedAuthorizationRequests.push({ params, dpop: ctx.get('dpop') !== '' })
    if (refusePublicClients && !params.has('client_secret') && !/^Basic\s/i.test(ctx.get('authorization'))) {
      ctx.status = 400
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { error: 'unauthorized_client', error_description: 'pushed authorization requests are for confidential clients' }
      return
    }
    await next()
  }
}
