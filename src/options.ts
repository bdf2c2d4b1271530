import { UsageError } from './errors.ts'
import { isLoopbackHttp } from './protocol/url.ts'
import type { ProfileSettings } from './session/session.ts'

export const DEFAULTS = {
  profile: 'default',
  scope: 'openid profile email offline_access',
  port: 4242,
  portAttempts: 50,
  redirectHost: '127.0.0.1',
  redirectPath: '/callback',
  timeoutS: 300,
  minTtlS: 60,
} as const

export type RedirectHost = '127.0.0.1' | 'localhost'

/** The settings a login needs, as given by the caller (CLI: flags over env vars); any may be missing. */
export interface LoginSettingsInput {
  issuer?: string
  /** Auth0 shorthand: host[:port] → issuer https://<domain>/ */
  domain?: string
  clientId?: string
  clientSecret?: string
  audience?: string
  organization?: string
  /** Space- or comma-separated, or a list. */
  scope?: string | string[]
  prompt?: string
  port?: number
  portAttempts?: number
  redirectHost?: RedirectHost
  redirectPath?: string
  timeoutS?: number
  device?: boolean
}

/** Everything a login uses, after defaults and validation. */
export interface LoginSettings {
  issuer: string
  clientId: string
  clientSecret?: string
  audience?: string
  organization?: string
  scope: string
  prompt?: string
  port: number
  portAttempts: number
  redirectHost: RedirectHost
  redirectPath: string
  timeoutS: number
  device: boolean
}

/**
 * Given settings win over what the profile remembers, which wins over the defaults. What the profile
 * remembers is for its issuer only: given another issuer, none of it applies.
 */
export function resolveLoginSettings(given: LoginSettingsInput, profileMemory: ProfileSettings): LoginSettings {
  const givenIssuer = issuerFrom(given)
  const remembered = givenIssuer && profileMemory.issuer && !sameIssuer(givenIssuer, profileMemory.issuer) ? {} : profileMemory
  const issuer = givenIssuer ?? remembered.issuer
  if (!issuer) throw UsageError.forOption('issuer', 'is required (or "domain" for an Auth0 tenant)')
  const clientId = given.clientId ?? remembered.clientId
  if (!clientId) throw UsageError.forOption('clientId', 'is required')
  const redirect = resolveRedirectSettings(given, remembered)
  const timeoutS = given.timeoutS ?? DEFAULTS.timeoutS
  if (!(timeoutS >= 0.001 && timeoutS <= MAX_TIMEOUT_S)) {
    throw UsageError.forOption('timeoutS', `must be a number of seconds from 0.001 to ${MAX_TIMEOUT_S}, not ${timeoutS}`)
  }
  return {
    issuer: validateIssuer(issuer),
    clientId,
    clientSecret: given.clientSecret || undefined,
    audience: given.audience ?? remembered.audience,
    organization: given.organization ?? remembered.organization,
    scope: normalizeScope(given.scope ?? remembered.scope ?? DEFAULTS.scope),
    prompt: given.prompt || undefined,
    ...redirect,
    timeoutS,
    device: given.device ?? remembered.device ?? false,
  }
}

export interface RedirectSettings {
  port: number
  portAttempts: number
  redirectHost: RedirectHost
  redirectPath: string
}

export function resolveRedirectSettings(given: LoginSettingsInput, remembered: ProfileSettings): RedirectSettings {
  const port = given.port ?? remembered.port ?? DEFAULTS.port
  const portAttempts = given.portAttempts ?? remembered.portAttempts ?? DEFAULTS.portAttempts
  const redirectHost = given.redirectHost ?? remembered.redirectHost ?? DEFAULTS.redirectHost
  const redirectPath = given.redirectPath ?? remembered.redirectPath ?? DEFAULTS.redirectPath
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw UsageError.forOption('port', `must be a port number (1-65535), not ${port}`)
  if (!Number.isInteger(portAttempts) || portAttempts < 1 || port + portAttempts - 1 > 65535) {
    throw UsageError.forOption('portAttempts', `must be a whole number from 1 to ${65536 - port}, not ${portAttempts}`)
  }
  if (redirectHost !== '127.0.0.1' && redirectHost !== 'localhost') {
    throw UsageError.forOption('redirectHost', `must be 127.0.0.1 or localhost, not ${JSON.stringify(redirectHost)}`)
  }
  if (!/^\/[A-Za-z0-9\-._~/%]*$/.test(redirectPath) || redirectPath.startsWith('//')) {
    throw UsageError.forOption('redirectPath', `must be a URL path starting with /, not ${JSON.stringify(redirectPath)}`)
  }
  return { port, portAttempts, redirectHost, redirectPath }
}

/** The redirect URIs a provider must accept for these settings: one per port of the range. */
export function callbackUrls(settings: RedirectSettings): string[] {
  return Array.from({ length: settings.portAttempts }, (_, i) => `http://${settings.redirectHost}:${settings.port + i}${settings.redirectPath}`)
}

/** Timers take at most 2^31 - 1 ms. */
const MAX_TIMEOUT_S = 2_147_483

export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '')
}

/** The issuer given as --issuer or --domain, if any. */
export function issuerFrom(given: Pick<LoginSettingsInput, 'issuer' | 'domain'>): string | undefined {
  if (given.issuer && given.domain) throw UsageError.forOption('domain', 'cannot be given together with "issuer"')
  if (given.domain) return issuerFromDomain(given.domain)
  return given.issuer
}

/** Auth0's --domain: `tenant.eu.auth0.com` → `https://tenant.eu.auth0.com/`. */
export function issuerFromDomain(domain: string): string {
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(domain)) {
    throw UsageError.forOption('domain', `must be a host name such as tenant.eu.auth0.com (no scheme or path), not ${JSON.stringify(domain)}`)
  }
  return `https://${domain}/`
}

function validateIssuer(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw UsageError.forOption('issuer', `must be a URL such as https://tenant.auth0.com/, not ${JSON.stringify(issuer)}`)
  }
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    throw UsageError.forOption('issuer', `must use https (plain http only for a provider on 127.0.0.1 or localhost): ${issuer}`)
  }
  if (url.search || url.hash) throw UsageError.forOption('issuer', `must not have a query or fragment: ${issuer}`)
  return issuer
}

/** Scopes are space-separated; commas are accepted too. */
export function normalizeScope(scope: string | string[]): string {
  const words = (Array.isArray(scope) ? scope.join(' ') : scope).split(/[\s,]+/).filter(Boolean)
  if (words.length === 0) throw UsageError.forOption('scope', 'must name at least one scope')
  return [...new Set(words)].join(' ')
}

export function hasScope(scope: string | undefined, name: string): boolean {
  return (scope ?? '').split(' ').includes(name)
}
