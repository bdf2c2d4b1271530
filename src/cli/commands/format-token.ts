import type { AccessToken } from '../../session/session.ts'

/** `token --format raw|json|header`. */
export function formatToken(token: AccessToken, format: string): string {
  if (format === 'json') return JSON.stringify(token)
  if (format === 'header') return `Authorization: ${token.token_type} ${token.access_token}`
  return token.access_token
}
