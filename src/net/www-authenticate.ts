/**
 * `WWW-Authenticate` (RFC 9110 §11.6.1): the challenges a resource answers with, each a scheme and
 * its auth-params, and what a client acts on in them: RFC 6750 §3 (`error`, `scope`), RFC 9470
 * (`acr_values`, `max_age`), RFC 9728 §5.1 (`resource_metadata`). Pure: no protocol code (the CLI's
 * cached `fetch` reads a refused answer with it).
 */

export interface Challenge {
  /** Lower case: `bearer`, `dpop`, `basic`… */
  scheme: string
  /** Parameter names in lower case; the first of a repeated name wins. */
  params: Record<string, string>
}

/** Every challenge of a header, which may hold several, with quoted strings, escapes and token68. */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = []
  const pattern = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+)))?/g
  let current: Challenge | undefined
  for (let match = pattern.exec(header); match; match = pattern.exec(header)) {
    const [, name, quoted, token] = match
    if (quoted === undefined && token === undefined) {
      // A name without a value starts a challenge (its auth-scheme), unless it is token68 (ignored).
      current = { scheme: name.toLowerCase(), params: {} }
      challenges.push(current)
      continue
    }
    const key = name.toLowerCase()
    if (current && !(key in current.params)) current.params[key] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token
  }
  return challenges
}

/** The first challenge of one of these schemes (a token's own: Bearer, or DPoP for a DPoP-bound one). */
export function challengeOf(header: string, schemes: readonly string[] = ['bearer', 'dpop']): Challenge | undefined {
  return parseChallenges(header).find((c) => schemes.includes(c.scheme))
}

/** What a refused request asks for: a new token (invalid_token), more scope, or a stronger login. */
export type StepUp =
  | { kind: 'insufficient_scope'; scope: string; description?: string }
  | { kind: 'insufficient_user_authentication'; acrValues?: string; maxAge?: number; description?: string }

/**
 * The step-up a challenge asks for, if any: `insufficient_scope` naming a `scope` (RFC 6750 §3.1,
 * MCP's scope challenge), or `insufficient_user_authentication` (RFC 9470 §3) with `acr_values`
 * and/or `max_age`. Anything else (no error, invalid_token, a scope error naming no scope) is none.
 */
export function stepUpOf(header: string): StepUp | undefined {
  for (const { params } of parseChallenges(header)) {
    const description = params.error_description || undefined
    if (params.error === 'insufficient_scope') {
      const scope = (params.scope ?? '').split(/\s+/).filter(Boolean).join(' ')
      if (scope) return { kind: 'insufficient_scope', scope, ...(description ? { description } : {}) }
    }
    if (params.error === 'insufficient_user_authentication') {
      const acrValues = (params.acr_values ?? '').split(/\s+/).filter(Boolean).join(' ') || undefined
      const maxAge = /^\d+$/.test(params.max_age ?? '') ? Number(params.max_age) : undefined
      if (acrValues !== undefined || maxAge !== undefined) return { kind: 'insufficient_user_authentication', ...(acrValues ? { acrValues } : {}), ...(maxAge !== undefined ? { maxAge } : {}), ...(description ? { description } : {}) }
    }
  }
  return undefined
}

/** A 401 whose challenge says the token itself was refused (RFC 6750 §3.1 `invalid_token`). */
export function isInvalidToken(header: string): boolean {
  return parseChallenges(header).some((c) => c.params.error === 'invalid_token')
}

/** The DPoP nonce retry (RFC 9449 §9): a 401 `DPoP … error="use_dpop_nonce"`. */
export function isUseDpopNonce(header: string): boolean {
  return parseChallenges(header).some((c) => c.scheme === 'dpop' && c.params.error === 'use_dpop_nonce')
}
