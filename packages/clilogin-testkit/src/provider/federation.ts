/**
 * Enterprise-managed authorization (SEP-990) too: as the identity provider, token exchange of one
 * of its own ID tokens with `requested_token_type` id-jag answers an ID-JAG (a JWT it signs, typ
 * `oauth-id-jag+jwt`, for the `audience` authorization server and the `resource`); as that
 * authorization server, a provider trusting it (`trustedAssertionIssuers: [identityProvider]`) takes
 * the ID-JAG with the JWT bearer grant, from the client it names.
 *
 * Logins without a person at the provider: the client credentials grant (oidc-provider's feature,
 * switched on in configuration.ts), and the two grants that exchange a workload's assertion — its
 * CI platform's OIDC token — for an access token: the JWT bearer grant (RFC 7523 §2.1) and token
 * exchange (RFC 8693), registered here. An assertion is taken when an issuer the provider trusts
 * (`trustedAssertionIssuers`, e.g. startCiTokenService()) signed it, for this provider (its `aud`
 * is the issuer, with or without the trailing slash), and it has not expired; otherwise
 * `invalid_grant`, as a real server answers.
 */
import { randomUUID } from 'node:crypto'
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose'
import type { Kit } from './kit.ts'
import type { KoaContext, ProviderInstance } from './oidc-provider.ts'
import type { TrustedAssertionIssuer } from './types.ts'

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag'
const ID_JAG_LIFETIME_S = 300

interface GrantContext extends KoaContext {
  oidc: NonNullable<KoaContext['oidc']> & { params: Record<string, unknown>; client: { clientId: string }; entity(name: string, value: unknown): void }
  body: unknown
}

export function registerFederatedGrants(provider: ProviderInstance, kit: Kit, trusted: readonly TrustedAssertionIssuer[], errors: { InvalidGrant: new () => Error; InvalidRequest: new (description?: string) => Error }): void {
  const keySets = trusted.map((issuer) => ({ issuer: issuer.issuer, keys: createLocalJWKSet({ keys: issuer.jwks.keys as JWK[] }) }))
  const audiences = [kit.issuer, kit.issuer.replace(/\/$/, '')]

  /** The workload the assertion names (its `sub`), or invalid_grant saying why it is not taken. */
  async function verifiedSubject(assertion: unknown, clientId?: string): Promise<string> {
    if (typeof assertion !== 'string' || assertion === '') throw new errors.InvalidRequest('no assertion')
    let lastProblem = 'no trusted issuer signed it'
    for (const { issuer, keys } of keySets) {
      try {
        const { payload } = await jwtVerify(assertion, keys, { issuer, audience: audiences })
        if (typeof payload.sub !== 'string') throw new Error('it has no subject')
        // An ID-JAG names the client it was issued for: another client cannot use it.
        if (clientId !== undefined && typeof payload.client_id === 'string' && payload.client_id !== clientId) throw new Error(`it was issued for the client ${payload.client_id}`)
        return payload.sub
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || code === 'ERR_JWKS_NO_MATCHING_KEY') continue
        lastProblem = code === 'ERR_JWT_EXPIRED' ? 'it has expired' : (error as { claim?: string }).claim === 'aud' ? `it is for another audience (not ${kit.issuer})` : (error as Error).message
        break
      }
    }
    // oidc-provider's InvalidGrant has a fixed description: the reason goes in it, as a real server says it.
    throw Object.assign(new errors.InvalidGrant(), { error_description: `the assertion is not accepted: ${lastProblem}` })
  }

  async function issue(ctx: GrantContext, subject: string, exchange: boolean): Promise<void> {
    const { ClientCredentials } = provider as unknown as { ClientCredentials: new (init: Record<string, unknown>) => { save(): Promise<string>; expiration: number; scope?: string } }
    const scope = typeof ctx.oidc.params.scope === 'string' && ctx.oidc.params.scope !== '' ? ctx.oidc.params.scope : undefined
    const token = new ClientCredentials({ client: ctx.oidc.client, scope })
    ctx.oidc.entity('ClientCredentials', token)
    const value = await token.save()
    kit.assertionSubjects.set(value, subject)
    ctx.body = {
      access_token: value,
      token_type: 'Bearer',
      expires_in: token.expiration,
      ...(token.scope ? { scope: token.scope } : {}),
      ...(exchange ? { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' } : {}),
    }
  }

  /** The identity provider's side: one of its own ID tokens → an ID-JAG for another authorization server. */
  async function issueIdJag(ctx: GrantContext): Promise<void> {
    const { subject_token: idToken, subject_token_type: type, audience, resource, scope } = ctx.oidc.params
    if (type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest('an ID-JAG is issued for an ID token (subject_token_type id_token)')
    if (typeof audience !== 'string' || audience === '') throw new errors.InvalidRequest('audience (the authorization server) is required')
    let sub: string
    try {
      const { payload } = await jwtVerify(String(idToken), kit.signingKey.localJwks, { issuer: kit.issuer })
      if (typeof payload.sub !== 'string') throw new Error('no subject')
      sub = payload.sub
    } catch (error) {
      throw Object.assign(new errors.InvalidGrant(), { error_description: `the ID token is not accepted: ${(error as Error).message}` })
    }
    const key = await importJWK(kit.signingKey.privateJwk, 'RS256')
    const nowS = Math.floor(Date.now() / 1000)
    const idJag = await new SignJWT({ client_id: ctx.oidc.client.clientId, ...(typeof resource === 'string' ? { resource } : {}), ...(typeof scope === 'string' && scope ? { scope } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid: kit.signingKey.privateJwk.kid, typ: 'oauth-id-jag+jwt' })
      .setIssuer(kit.issuer)
      .setSubject(sub)
      .setAudience(audience)
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + ID_JAG_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key)
    kit.stats.grants[ID_JAG_TYPE] = (kit.stats.grants[ID_JAG_TYPE] ?? 0) + 1
    ctx.body = { access_token: idJag, issued_token_type: ID_JAG_TYPE, token_type: 'N_A', expires_in: ID_JAG_LIFETIME_S }
  }

  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx: GrantContext) => issue(ctx, await verifiedSubject(ctx.oidc.params.assertion, ctx.oidc.client.clientId), false),
    ['assertion', 'scope'],
  )
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: GrantContext) => {
      const type = ctx.oidc.params.subject_token_type
      if (ctx.oidc.params.requested_token_type === ID_JAG_TYPE) return issueIdJag(ctx)
      if (typeof type !== 'string' || !JWT_TOKEN_TYPES.includes(type)) throw new errors.InvalidRequest(`unsupported subject_token_type ${JSON.stringify(type)}`)
      await issue(ctx, await verifiedSubject(ctx.oidc.params.subject_token), true)
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope', 'actor_token', 'actor_token_type'],
  )
}
