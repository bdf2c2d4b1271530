// Baseline for the login benchmark: a minimal, careful login built directly on openid-client —
// discovery, a loopback listener, PKCE, the browser started from BROWSER, the code exchange and an
// atomic store. What cli-login's login is compared with.
// Usage: node bench/baseline-login.mjs <issuer> <client_id> <port> <session-file>
import * as client from 'openid-client'
import { createServer } from 'node:http'
import { spawn } from 'node:child_process'
import { open, rename } from 'node:fs/promises'

const [issuer, clientId, port, sessionFile] = process.argv.slice(2)
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
const codeVerifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const redirectUri = `http://127.0.0.1:${port}/callback`
const server = createServer()
await new Promise((resolve, reject) => server.once('error', reject).listen(Number(port), '127.0.0.1', resolve))
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
  state,
})
const [command, ...args] = process.env.BROWSER.split(' ')
spawn(command, [...args, url.href], { stdio: 'ignore', detached: true }).unref()
const { req, res } = await new Promise((resolve) => {
  server.on('request', (req, res) => {
    if (req.url.startsWith('/callback?')) resolve({ req, res })
    else res.writeHead(404).end()
  })
})
const tokens = await client.authorizationCodeGrant(config, new URL(req.url, redirectUri), { pkceCodeVerifier: codeVerifier, expectedState: state })
const tmp = `${sessionFile}.tmp`
const file = await open(tmp, 'w', 0o600)
await file.writeFile(JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_in: tokens.expires_in }))
await file.sync()
await file.close()
await rename(tmp, sessionFile)
res.writeHead(200, { 'content-type': 'text/html', connection: 'close' }).end('<p>Logged in. You can close this window.</p>')
server.close()
server.closeAllConnections()
