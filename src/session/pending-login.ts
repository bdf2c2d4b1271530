/**
 * A login started now and finished later (`startLogin()` / `finishLogin()`), maybe in another
 * process: what its attempt needs to be completed. While it waits it is a secret of the profile
 * (PKCE verifier, state, nonce, client secret): kept where the session's secrets go (keychain item
 * or 0600 file), moved and deleted with them. Once used or expired only its record stays, secrets
 * gone, so that a second use is told apart from none at all.
 */
import type { LoginSettings } from '../options.ts'
import type { AuthorizationAttempt } from '../protocol/authorize.ts'

export interface PendingLogin {
  version: 1
  loginId: string
  /** Epoch seconds. */
  createdAt: number
  expiresAt: number
  /** The redirect_uri the authorization request named (the code exchange must name it too). */
  redirectUri: string
  /** Set once finishLogin() has taken it (then attempt and settings are gone). */
  usedAt?: number
  /** The secrets; absent once used or expired. */
  attempt?: AuthorizationAttempt
  settings?: LoginSettings
  /** `keychain`: the file holds only the record, the attempt is in the keychain item. */
  storage?: 'keychain'
}

/** The record without its secrets: what stays after use, and what the file holds with keychain storage. */
export function pendingRecord(pending: PendingLogin): PendingLogin {
  const { attempt: _attempt, settings: _settings, storage: _storage, ...record } = pending
  return record
}

/** Checks parsed JSON has the shape of a PendingLogin; the reason when it does not. */
export function pendingShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const p = value as Record<string, unknown>
  if (p.version !== 1) return `unknown version ${JSON.stringify(p.version)}`
  for (const key of ['loginId', 'redirectUri'] as const) if (typeof p[key] !== 'string' || p[key] === '') return `"${key}" is missing`
  for (const key of ['createdAt', 'expiresAt'] as const) if (!Number.isFinite(p[key])) return `"${key}" is not a number`
  if (p.usedAt !== undefined && !Number.isFinite(p.usedAt)) return '"usedAt" is not a number'
  if (p.storage !== undefined && p.storage !== 'keychain') return `unknown storage ${JSON.stringify(p.storage)}`
  if (p.attempt !== undefined) {
    const a = p.attempt as Record<string, unknown> | null
    if (typeof a !== 'object' || a === null) return '"attempt" is not an object'
    for (const key of ['state', 'codeVerifier', 'codeChallenge', 'nonce']) if (typeof a[key] !== 'string') return `"attempt.${key}" is missing`
  }
  if (p.settings !== undefined) {
    const s = p.settings as Record<string, unknown> | null
    if (typeof s !== 'object' || s === null || typeof s.issuer !== 'string' || typeof s.clientId !== 'string' || typeof s.scope !== 'string') return '"settings" is not a login\'s settings'
  }
  return undefined
}
