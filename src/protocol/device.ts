import * as client from 'openid-client'
import { AuthorizationError, ErrorCode, ProviderError } from '../errors.ts'
import { toProviderError } from './provider.ts'
import { toTokenSet, type TokenSet } from './token-set.ts'
import { assertDpopBound, withDpop, type DpopSigner } from './dpop.ts'

export type DeviceAuthorization = client.DeviceAuthorizationResponse

/** Asks the provider for a device code and a user code (RFC 8628 §3.1). */
export async function startDeviceAuthorization(
  config: client.Configuration,
  params: { scope: string; audience?: string; organization?: string; resource?: string },
): Promise<DeviceAuthorization> {
  if (!config.serverMetadata().device_authorization_endpoint) {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider has no device authorization endpoint: log in through the browser instead', { error: 'device_flow_unsupported' })
  }
  const query: Record<string, string> = {}
  if (params.scope) query.scope = params.scope
  if (params.resource) query.resource = params.resource
  if (params.audience) query.audience = params.audience
  if (params.organization) query.organization = params.organization
  try {
    return saneTimes(await client.initiateDeviceAuthorization(config, query))
  } catch (error) {
    throw toProviderError(error, 'the device authorization request')
  }
}

/** Bounds for the provider's `interval` and `expires_in` (the login's own timeout still wins). */
export const DEVICE_INTERVAL_S = { min: 1, max: 60, default: 5 }
const DEVICE_EXPIRES_IN_S = { min: 10, max: 24 * 60 * 60, default: 600 }

function clamp(value: unknown, bounds: { min: number; max: number; default: number }): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return bounds.default
  return Math.min(bounds.max, Math.max(bounds.min, value))
}

/** A 25-day expires_in or an absurd interval would overflow Node's timers: clamp them to sane bounds. */
function saneTimes(authorization: DeviceAuthorization): DeviceAuthorization {
  return {
    ...authorization,
    interval: clamp(authorization.interval ?? DEVICE_INTERVAL_S.default, DEVICE_INTERVAL_S),
    expires_in: clamp(authorization.expires_in, DEVICE_EXPIRES_IN_S),
  }
}

/**
 * Polls the token endpoint until the user has approved or denied (openid-client honours `interval`,
 * `slow_down` and `authorization_pending`). `signal` bounds the wait; the device code's own expiry
 * ends it too, as expired_token.
 */
export async function pollDeviceAuthorization(
  config: client.Configuration,
  authorization: DeviceAuthorization,
  signal: AbortSignal,
  loginCommand: string,
  resource?: string,
  signer?: DpopSigner,
): Promise<TokenSet> {
  const expiry = AbortSignal.timeout(authorization.expires_in * 1000)
  try {
    const options = { signal: AbortSignal.any([signal, expiry]), ...(signer ? { DPoP: signer.handle } : {}) }
    const tokens = toTokenSet(await withDpop(config, signer, () => client.pollDeviceAuthorizationGrant(config, authorization, resource ? { resource } : undefined, options)))
    if (signer) assertDpopBound(tokens.tokenType, 'the device login')
    return tokens
  } catch (error) {
    if (error instanceof ProviderError) throw error
    if (signal.aborted) throw signal.reason
    if (expiry.aborted || (error instanceof client.ResponseBodyError && error.error === 'expired_token')) {
      throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the device code expired before the login was approved: run ${loginCommand} again`, { error: 'expired_token', cause: error })
    }
    if (error instanceof client.ResponseBodyError && error.error === 'access_denied') {
      throw new AuthorizationError(error.error, error.error_description, { cause: error })
    }
    throw toProviderError(error, 'the device login')
  }
}
