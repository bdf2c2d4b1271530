/**
 * The example API (`GET /api/me`) and what it does with a bearer token: verifyAccessToken(), also on
 * the provider's handle, and used for userinfo (auth0.ts).
 */
import { jwtVerify } from 'jose'
import { bearerToken, isJwt } from './http.ts'
import { findUser, type Kit } from './kit.ts'
import type { Middleware, ProviderInstance } from './oidc-provider.ts'
import { API_ME_PATH } from './routes.ts'
import type { TokenIdentity } from './types.ts'

export type AccessTokenVerifier = (token: string) => Promise<TokenIdentity | undefined>

/** JWT access tokens are checked against the provider's key; opaque ones are looked up in its store. */
export function accessTokenVerifier(kit: Kit, provider: ProviderInstance): AccessTokenVerifier {
  return async function verifyAccessToken(token: string): Promise<TokenIdentity | undefined> {
    if (typeof token !== 'string' || token === '' || kit.expiredAccessTokens.has(token)) return undefined
    if (isJwt(token)) {
      try {
        const { payload } = await jwtVerify(token, kit.signingKey.localJwks, {
          issuer: kit.issuer,
          audience: kit.audiences,
          typ: 'at+jwt',
          algorithms: ['RS256'],
        })
        if (typeof payload.sub !== 'string') return undefined
        const jkt = (payload.cnf as { jkt?: unknown } | undefined)?.jkt
        return {
          sub: payload.sub,
          aud: payload.aud,
          ...(typeof payload.scope === 'string' ? { scope: payload.scope } : {}),
          ...(typeof jkt === 'string' ? { jkt } : {}),
        }
      } catch {
        return undefined
      }
    }
    try {
      const accessToken = await provider.AccessToken.find(token)
      if (!accessToken) return await machineToken(kit, provider, token)
      if (accessToken.isExpired || !accessToken.accountId) return undefined
      return {
        sub: accessToken.accountId,
        ...(accessToken.aud === undefined ? {} : { aud: accessToken.aud }),
        ...(accessToken.scope === undefined ? {} : { scope: accessToken.scope }),
        ...(typeof accessToken.jkt === 'string' ? { jkt: accessToken.jkt } : {}),
      }
    } catch {
      return undefined
    }
  }
}

/**
 * A token of a login without a person (client credentials, an exchanged assertion): it stands for
 * the workload the assertion named, else for the client itself.
 */
async function machineToken(kit: Kit, provider: ProviderInstance, token: string): Promise<TokenIdentity | undefined> {
  const found = await provider.ClientCredentials.find(token)
  if (!found || found.isExpired) return undefined
  const sub = kit.assertionSubjects.get(token) ?? found.clientId
  if (!sub) return undefined
  return { sub, ...(found.aud === undefined ? {} : { aud: found.aud }), ...(found.scope === undefined ? {} : { scope: found.scope }) }
}

/** `GET /api/me`: the signed-in user's profile for a valid access token, 401 otherwise. */
export function apiMe(kit: Kit, verifyAccessToken: AccessTokenVerifier): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== API_ME_PATH) return next()
    ctx.set('Cache-Control', 'no-store')
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405
      ctx.body = { error: 'method_not_allowed' }
      return
    }
    const token = bearerToken(ctx)
    const identity = token ? await verifyAccessToken(token) : undefined
    const user = identity ? findUser(kit, identity.sub) : undefined
    if (!user) {
      ctx.status = 401
      ctx.set('WWW-Authenticate', 'Bearer realm="cli-login demo API", error="invalid_token"')
      ctx.body = { error: 'invalid_token' }
      return
    }
    ctx.body = { sub: user.sub, name: user.name, email: user.email }
  }
}
