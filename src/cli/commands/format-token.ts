import type { AccessToken } from '../../session/session.ts'

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
