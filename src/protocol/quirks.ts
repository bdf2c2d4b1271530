/**
 * Provider quirks: what particular providers do beyond or instead of the standards, in one place
 * (Auth0's today). The rest of the library calls these and stays provider-neutral; a quirk of
 * another provider belongs here too. Pure functions: no I/O, nothing loaded. (The `audience` and
 * `organization` options are the library's own: sent as given, wherever a provider takes them.)
 */
import { UsageError } from '../errors.ts'

/** Auth0's `domain` shorthand: `tenant.eu.auth0.com` → issuer `https://tenant.eu.auth0.com/`. */
export function issuerFromDomain(domain: string): string {
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(domain)) {
    throw UsageError.forOption('domain', `must be a host name such as tenant.eu.auth0.com (no scheme or path), not ${JSON.stringify(domain)}`)
  }
  return `https://${domain}/`
}

/**
 * Where to end the browser session when the provider advertises no end_session_endpoint: an Auth0
 * tenant (`*.auth0.com`) logs out at `/v2/logout`. Undefined for any other provider.
 */
export function fallbackEndSessionUrl(issuer: string, clientId: string): URL | undefined {
  const url = new URL(issuer)
  if (!/\.auth0\.com$/.test(url.hostname)) return undefined
  const logout = new URL('/v2/logout', url)
  logout.searchParams.set('client_id', clientId)
  return logout
}

/**
 * Why a JWT access token asked for another API is not one for it, or undefined: Auth0 silently
 * falls back to the default audience when no refresh-token policy allows the one asked, so the
 * token's `aud` must name the API (or resource) asked for. Opaque tokens cannot be checked here.
 */
export function wrongAudienceProblem(accessToken: string, wanted: string | undefined): string | undefined {
  if (wanted === undefined) return undefined
  const aud = jwtAudience(accessToken)
  if (aud === undefined || aud.includes(wanted)) return undefined
  return `the provider issued a token for ${aud.map((a) => JSON.stringify(a)).join(', ') || 'no audience'} instead of ${JSON.stringify(wanted)}: allow that API for this application's refresh tokens at the provider`
}

function jwtAudience(token: string): string[] | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { aud?: unknown }
    if (typeof payload.aud === 'string') return [payload.aud]
    if (Array.isArray(payload.aud)) return payload.aud.filter((a): a is string => typeof a === 'string')
    return []
  } catch {
    return undefined
  }
}
