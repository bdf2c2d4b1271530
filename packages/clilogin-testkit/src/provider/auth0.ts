/**
 * Where oidc-provider answers differently from an Auth0 tenant, the middleware that makes it answer
 * like one (each on oidc-provider's own request or answer, never by patching its internals).
 */
import type { AccessTokenVerifier } from './api.ts'
import { bearerToken, isJwt } from './http.ts'
import { findUser, type Kit } from './kit.ts'
import type { KoaContext, Middleware } from './oidc-provider.ts'
import { ROUTES } from './routes.ts'
import type { TestProviderFaults } from './types.ts'

/** Device polling interval announced in the device authorization response (oidc-provider sends none). */
const DEVICE_INTERVAL_S = 1

/**
 * Auth0 issues a refresh token whenever offline_access is asked for; oidc-provider follows
 * OpenID Connect strictly and drops offline_access unless prompt includes `consent`. Native
 * clients are shown the consent page on every authorization anyway, so asking for it changes
 * nothing for the user. (stats.ts keeps the query as the client sent it.)
 */
export function offlineAccessWithoutConsentPrompt(): Middleware {
  return async (ctx, next) => {
    if (ctx.path === ROUTES.authorization && ctx.method === 'GET') {
      const query = new URLSearchParams(ctx.querystring)
      const scopes = (query.get('scope') ?? '').split(' ')
      const prompts = (query.get('prompt') ?? '').split(' ').filter(Boolean)
      if (scopes.includes('offline_access') && !prompts.includes('consent') && !prompts.includes('none')) {
        query.set('prompt', [...prompts, 'consent'].join(' '))
        ctx.querystring = query.toString()
      }
    }
    await next()
  }
}

/**
 * Auth0 spells RFC 8707's `resource` as `audience`, on refresh requests too: the token request body
 * with `audience` as `resource` (or, with the `ignoreRefreshAudience` fault, without either), for
 * peekBody() to put back. Undefined when the body stays as it is.
 */
export function audienceAsResource(raw: Buffer, faults: TestProviderFaults): Buffer | undefined {
  const form = new URLSearchParams(raw.toString('utf8'))
  const audience = form.get('audience')
  if (form.get('grant_type') !== 'refresh_token' || audience === null) return undefined
  form.delete('audience')
  if (!faults.ignoreRefreshAudience && !form.has('resource')) form.set('resource', audience)
  return Buffer.from(form.toString(), 'utf8')
}

/**
 * Auth0 answers /userinfo for an access token issued for an API (`audience`) when `openid` was
 * granted with it (its `aud` names the userinfo endpoint too); oidc-provider only takes tokens
 * without a resource there. So such JWTs are answered here, with the claims their scope allows.
 */
export function userinfoForApiTokens(kit: Kit, verifyAccessToken: AccessTokenVerifier): Middleware {
  return async (ctx, next) => {
    if (ctx.path === ROUTES.userinfo && (ctx.method === 'GET' || ctx.method === 'POST') && await answerUserinfo(ctx)) return
    await next()
  }

  async function answerUserinfo(ctx: KoaContext): Promise<boolean> {
    const token = bearerToken(ctx)
    if (!token || !isJwt(token)) return false
    const identity = await verifyAccessToken(token)
    const user = identity ? findUser(kit, identity.sub) : undefined
    const scopes = (identity?.scope ?? '').split(' ')
    if (!user || !scopes.includes('openid')) return false
    ctx.set('Cache-Control', 'no-store')
    ctx.body = {
      sub: user.sub,
      ...(scopes.includes('profile') ? { name: user.name, nickname: user.username, preferred_username: user.username } : {}),
      ...(scopes.includes('email') ? { email: user.email, email_verified: true } : {}),
    }
    return true
  }
}

/** Auth0's device authorization response says how often to poll; oidc-provider's does not. */
export function deviceAuthorizationInterval(): Middleware {
  return async (ctx, next) => {
    const { path, method } = ctx
    await next()
    if (path === ROUTES.device_authorization && method === 'POST' && ctx.status === 200) {
      const body = ctx.body as Record<string, unknown> | undefined
      if (body && typeof body === 'object' && 'device_code' in body && body.interval === undefined) {
        body.interval = DEVICE_INTERVAL_S
      }
    }
  }
}
