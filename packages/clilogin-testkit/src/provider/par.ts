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
    let sent = new URLSearchParams()
    const body = await peekBody(ctx.req, (raw) => {
      sent = new URLSearchParams(raw.toString('utf8'))
      return withConsentPrompt(raw)
    })
    const params = new URLSearchParams(body?.toString('utf8') ?? '')
    kit.stats.pushedAuthorizationRequests.push({ params: sent, dpop: ctx.get('dpop') !== '' })
    if (refusePublicClients && !params.has('client_secret') && !/^Basic\s/i.test(ctx.get('authorization'))) {
      ctx.status = 400
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { error: 'unauthorized_client', error_description: 'pushed authorization requests are for confidential clients' }
      return
    }
    await next()
  }
}

/** As offlineAccessWithoutConsentPrompt (auth0.ts) does for GET /authorize: a pushed request asking for offline_access gets prompt=consent. */
function withConsentPrompt(raw: Buffer): Buffer | undefined {
  const form = new URLSearchParams(raw.toString('utf8'))
  const prompts = (form.get('prompt') ?? '').split(' ').filter(Boolean)
  if (!(form.get('scope') ?? '').split(' ').includes('offline_access') || prompts.includes('consent') || prompts.includes('none')) return undefined
  form.set('prompt', [...prompts, 'consent'].join(' '))
  return Buffer.from(form.toString(), 'utf8')
}
