import { rfc3339 } from '../../time.ts'
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

/** `token --format raw|json|header|k8s` (`dpop`: dpopLines). */
export function formatToken(token: AccessToken, format: string): string {
  if (format === 'json') return JSON.stringify({ access_token: token.access_token, token_type: token.token_type, expires_at: token.expires_at })
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
      ...(token.expires_at !== null ? { expirationTimestamp: rfc3339(token.expires_at) } : {}),
    },
  }
}

/** A DPoP-bound token (RFC 9449) is of no use without a proof: only `--format dpop` (or json) shows it. */
export function isDpopToken(token: Pick<AccessToken, 'token_type'>): boolean {
  return token.token_type.toLowerCase() === 'dpop'
}

/** Why `--format <format>` cannot print this token, or undefined. */
export function formatProblem(token: Pick<AccessToken, 'token_type'>, format: string): string | undefined {
  if (isDpopToken(token) && ['raw', 'header', 'k8s'].includes(format)) {
    return `the session's access token is DPoP-bound (RFC 9449) and useless without a proof, so --format ${format} does not print it: use --format dpop --method <M> --url <U> (two header lines, for curl -H @-), or cli-login fetch`
  }
  return undefined
}

/** What `--format dpop` needs besides the token: the request the proof is for. */
export function dpopRequestProblem(method: string | undefined, url: string | undefined): string | undefined {
  if (method === undefined || url === undefined) return '--format dpop needs --method <M> and --url <U> (the request the proof is for)'
  if (!/^[A-Za-z]+$/.test(method)) return `--method must be an HTTP method such as GET or POST, not ${JSON.stringify(method)}`
  const parsed = URL.parse(url)
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) return `--url must be an http or https URL, not ${JSON.stringify(url)}`
  return undefined
}

/** `--format dpop`: `Authorization: DPoP …` and `DPoP: <proof>` (a bearer token: its Authorization line alone). */
export function dpopLines(token: AccessToken, proof: string | undefined): string {
  if (!isDpopToken(token) || proof === undefined) return `Authorization: ${token.token_type} ${token.access_token}`
  return `Authorization: DPoP ${token.access_token}\nDPoP: ${proof}`
}
