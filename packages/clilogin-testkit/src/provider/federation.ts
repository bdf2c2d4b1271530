/**
 * Logins without a person at the provider: the client credentials grant (oidc-provider's feature,
 * switched on in configuration.ts), and the two grants that exchange a workload's assertion — its
 * CI platform's OIDC token — for an access token: the JWT bearer grant (RFC 7523 §2.1) and token
 * exchange (RFC 8693), registered here. An assertion is taken when an issuer the provider trusts
 * (`trustedAssertionIssuers`, e.g. startCiTokenService()) signed it, for this provider (its `aud`
 * is the issuer, with or without the trailing slash), and it has not expired; otherwise
 * `invalid_grant`, as a real server answers.
 */
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose'
import type { Kit } from './kit.ts'
import type { KoaContext, ProviderInstance } from './oidc-provider.ts'
import type { TrustedAssertionIssuer } from './types.ts'

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const JWT_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']

interface GrantContext extends KoaContext {
  oidc: NonNullable<KoaContext['oidc']> & { params: Record<string, unknown>; client: { clientId: string }; entity(name: string, value: unknown): void }
  body: unknown
}

export function registerFederatedGrants(provider: ProviderInstance, kit: Kit, trusted: readonly TrustedAssertionIssuer[], errors: { InvalidGrant: new () => Error; InvalidRequest: new (description?: string) => Error }): void {
  const keySets = trusted.map((issuer) => ({ issuer: issuer.issuer, keys: createLocalJWKSet({ keys: issuer.jwks.keys as JWK[] }) }))
  const audiences = [kit.issuer, kit.issuer.replace(/\/$/, '')]

  /** The workload the assertion names (its `sub`), or invalid_grant saying why it is not taken. */
  async function verifiedSubject(assertion: unknown): Promise<string> {
    if (typeof assertion !== 'string' || assertion === '') throw new errors.InvalidRequest('no assertion')
    let lastProblem = 'no trusted issuer signed it'
    for (const { issuer, keys } of keySets) {
      try {
        const { payload } = await jwtVerify(assertion, keys, { issuer, audience: audiences })
        if (typeof payload.sub !== 'string') throw new Error('it has no subject')
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

  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx: GrantContext) => issue(ctx, await verifiedSubject(ctx.oidc.params.assertion), false),
    ['assertion', 'scope'],
  )
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: GrantContext) => {
      const type = ctx.oidc.params.subject_token_type
      if (typeof type !== 'string' || !JWT_TOKEN_TYPES.includes(type)) throw new errors.InvalidRequest(`unsupported subject_token_type ${JSON.stringify(type)}`)
      await issue(ctx, await verifiedSubject(ctx.oidc.params.subject_token), true)
    },
    ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope', 'actor_token', 'actor_token_type'],
  )
}
