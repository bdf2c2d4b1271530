import type { AccessToken } from '../../session/session.ts'

/**
 * What a printed token may contain: visible ASCII without spaces, 0x21–0x7E (RFC 6749 Appendix
 * A.12's characters less the space), so that it cannot break a header line or reach the terminal as
 * an escape. Not RFC 6750's narrower b64token: real servers mint tokens with `:` and more.
 */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/

/** Why the token must not be printed (CR/LF would inject a header line, escapes would reach the terminal), or undefined. */
export function tokenProblem(token: string): string | undefined {
  if (VISIBLE_ASCII.test(token)) return undefined
  if (token === '') return 'it is empty'
  if (/[\r\n]/.test(token)) return 'it contains a line break'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(token)) return 'it contains control characters'
  if (/\s/.test(token)) return 'it contains spaces'
  return 'it contains characters other than visible ASCII'
}

/** `token --format raw|json|header|k8s`. */
export function formatToken(token: AccessToken, format: string): string {
  if (format === 'json') return JSON.stringify(token)
  if (format === 'header') return `Authorization: ${token.token_type} ${token.access_token}`
  if (format === 'k8s') return JSON.stringify(execCredential(token))
  return token.access_token
}

/** A Kubernetes ExecCredential, so that cli-login serves as kubectl's `exec` credential plugin. */
function execCredential(token: AccessToken) {
  return {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: {
      token: token.access_token,
      ...(token.expires_at !== null ? { expirationTimestamp: new Date(token.expires_at * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    },
  }
}
