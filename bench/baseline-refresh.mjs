// Baseline for the refresh benchmark: a minimal refresh on openid-client — discovery, the refresh
// grant, an atomic store, the token printed.
// Usage: node bench/baseline-refresh.mjs <session-file>   (a cli-login session.json)
import * as client from 'openid-client'
import { open, readFile, rename } from 'node:fs/promises'

const [sessionFile] = process.argv.slice(2)
const session = JSON.parse(await readFile(sessionFile, 'utf8'))
const config = await client.discovery(new URL(session.issuer), session.clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] })
const tokens = await client.refreshTokenGrant(config, session.refreshToken)
const next = { ...session, accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? session.refreshToken, expiresAt: Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 0) }
const tmp = `${sessionFile}.tmp`
const file = await open(tmp, 'w', 0o600)
await file.writeFile(JSON.stringify(next))
await file.sync()
await file.close()
await rename(tmp, sessionFile)
process.stdout.write(`${tokens.access_token}\n`)
