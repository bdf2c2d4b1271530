// Baseline for login memory: a minimal login with AppAuth-JS (@openid/appauth, Node support) —
// discovery, its loopback handler with PKCE, the browser started by its opener (xdg-open on
// Linux: the bench puts its fake browser first on PATH under that name), the code exchange and an
// atomic store. What cli-login's login peak RSS is compared with.
// Usage: node bench/baseline-appauth-login.mjs <issuer> <client_id> <port> <session-file>
import appauth from '@openid/appauth'
import nodeSupport from '@openid/appauth/built/node_support/index.js'
import { open, rename } from 'node:fs/promises'

const { AuthorizationNotifier, AuthorizationRequest, AuthorizationServiceConfiguration, BaseTokenRequestHandler, GRANT_TYPE_AUTHORIZATION_CODE, TokenRequest } = appauth
const { NodeBasedHandler, NodeCrypto, NodeRequestor } = nodeSupport

const [issuer, clientId, port, sessionFile] = process.argv.slice(2)
const redirectUri = `http://127.0.0.1:${port}/callback`
const requestor = new NodeRequestor()
const configuration = await AuthorizationServiceConfiguration.fetchFromIssuer(issuer.replace(/\/$/, ''), requestor)
const notifier = new AuthorizationNotifier()
const handler = new NodeBasedHandler(Number(port))
handler.setAuthorizationNotifier(notifier)
const answered = new Promise((resolve) => notifier.setAuthorizationListener((request, response, error) => resolve({ request, response, error })))
const request = new AuthorizationRequest(
  { client_id: clientId, redirect_uri: redirectUri, scope: 'openid profile email offline_access', response_type: AuthorizationRequest.RESPONSE_TYPE_CODE, extras: {} },
  new NodeCrypto(),
  true,
)
handler.performAuthorizationRequest(configuration, request)
const { response, error } = await answered
if (error || !response) throw new Error(`authorization failed: ${error?.error ?? 'no response'}`)
const tokens = await new BaseTokenRequestHandler(requestor).performTokenRequest(
  configuration,
  new TokenRequest({
    client_id: clientId,
    redirect_uri: redirectUri,
    grant_type: GRANT_TYPE_AUTHORIZATION_CODE,
    code: response.code,
    extras: { code_verifier: request.internal.code_verifier },
  }),
)
const tmp = `${sessionFile}.tmp`
const file = await open(tmp, 'w', 0o600)
await file.writeFile(JSON.stringify({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken, expires_in: tokens.expiresIn }))
await file.sync()
await file.close()
await rename(tmp, sessionFile)
process.exit(0)
