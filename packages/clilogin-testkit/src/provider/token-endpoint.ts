/**
 * POST /oauth/token around oidc-provider's own handling, step by step: faults first, then Auth0's
 * request spelling, then oidc-provider, then what the answer is recorded as.
 */
import { audienceAsResource } from './auth0.ts'
import { deviceSlowDownFault, tokenAnswerDelay, tokenEndpointFault } from './faults.ts'
import { peekBody } from './http.ts'
import type { Kit } from './kit.ts'
import type { KoaContext, Middleware } from './oidc-provider.ts'
import { ROUTES } from './routes.ts'

export function tokenEndpoint(kit: Kit): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== ROUTES.token || ctx.method !== 'POST') return next()
    if (await tokenEndpointFault(kit, ctx)) return
    // The body is peeked once (oidc-provider parses it itself).
    const body = await peekBody(ctx.req, (raw) => audienceAsResource(raw, kit.faults))
    if (deviceSlowDownFault(kit, ctx, body)) return
    await next()
    dpopProofRequired(kit, ctx, body)
    if (kit.plainOAuth2 && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') delete (ctx.body as Record<string, unknown>).id_token
    const issued = ctx.status === 200 ? (ctx.body as { access_token?: unknown } | undefined)?.access_token : undefined
    if (typeof issued === 'string') kit.issuedAccessTokens.add(issued)
    await tokenAnswerDelay(kit, ctx)
  }
}

/**
 * A client that must use DPoP, asking without a proof: oidc-provider answers `invalid_grant`;
 * RFC 9449 §5 (and the servers that implement it) say `invalid_dpop_proof`, which is what a client
 * can act on. The answer is made to say that.
 */
function dpopProofRequired(kit: Kit, ctx: KoaContext, body: Buffer | undefined): void {
  if (ctx.status !== 400 || ctx.get('dpop') !== '') return
  const answer = ctx.body as { error?: unknown } | undefined
  if (answer?.error !== 'invalid_grant') return
  const clientId = ctx.oidc?.client?.clientId ?? new URLSearchParams(body?.toString('utf8') ?? '').get('client_id') ?? ''
  if (!kit.dpopClients.has(clientId)) return
  ctx.body = { error: 'invalid_dpop_proof', error_description: 'a DPoP proof is required for this client' }
}
