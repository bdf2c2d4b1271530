#!/usr/bin/env -S npx tsx
/**
 * acme: a TypeScript CLI that embeds cli-login, with nothing but node:util's parseArgs.
 *
 *   acme login [--device]         log in (browser, or a code to enter on any device)
 *   acme whoami                   call Acme's API with the token; what the provider says
 *   acme token [--audience <api>] print a token (for Acme's API, or another one from the same login)
 *   acme logout
 *
 * Run it with `npx tsx examples/acme-ts/acme.ts`, or compile it with tsc. In a real tool the provider
 * settings are baked in; the ACME_* variables only let the tests point it at the test kit.
 */
import { parseArgs } from 'node:util'
import { CliLogin, CliLoginError, ErrorCode, LoginRequiredError, type CliLoginOptions } from 'clilogin'

const PROVIDER = {
  issuer: process.env.ACME_ISSUER ?? 'https://acme.eu.auth0.com/',
  clientId: process.env.ACME_CLIENT_ID ?? 'acme-cli',
  audience: process.env.ACME_AUDIENCE ?? 'https://api.acme.example/',
  port: process.env.ACME_PORT ? Number(process.env.ACME_PORT) : undefined,
}
const API_URL = process.env.ACME_API_URL ?? 'https://api.acme.example/'

// #region options
function acmeLogin(extra: Partial<CliLoginOptions> = {}): CliLogin {
  return new CliLogin({
    appName: 'acme', // sessions in ~/.config/acme; every message says "run acme login"
    displayName: 'Acme CLI', // the name on the pages in the browser
    ...PROVIDER, // issuer, clientId, audience: baked into the tool
    onAuthorizationUrl: ({ url, browser }) => {
      console.error(browser.opened ? 'Opened your browser to log in. If nothing happened, open:' : 'Open this URL in a browser to log in:')
      console.error(url)
    },
    onDeviceCode: ({ verificationUri, verificationUriComplete, userCode }) => {
      console.error(`Open ${verificationUriComplete ?? verificationUri} on any device and check that it shows ${userCode}`)
    },
    onDebug: process.env.ACME_DEBUG ? (line) => console.error(`acme debug: ${line}`) : undefined,
    ...extra,
  })
}
// #endregion

const auth = acmeLogin()

async function login(args: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args, options: { device: { type: 'boolean' } } })
  const who = await acmeLogin({ device: values.device }).login({ signal })
  console.error(`Logged in to Acme as ${who.email ?? who.subject}.`)
  return 0
}

// #region whoami
async function whoami(signal: AbortSignal): Promise<number> {
  const { access_token } = await auth.getAccessToken({ signal })
  const response = await fetch(new URL('api/me', API_URL), { headers: { authorization: `Bearer ${access_token}` }, signal })
  if (!response.ok) throw new Error(`the Acme API answered ${response.status}`)
  const me = (await response.json()) as { name: string; email: string }
  const claims = (await auth.status())?.claims // the verified ID token's claims
  const info = await auth.userinfo({ signal }) // the provider's userinfo endpoint
  console.log(`${me.name} <${me.email}>`)
  console.log(`signed in at ${String(claims?.iss)} as ${String(info.sub)}`)
  return 0
}
// #endregion

// #region token
async function token(args: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({ args, options: { audience: { type: 'string' } } })
  // Another API from the same login (Auth0: the application's refresh-token policy must allow it).
  const { access_token } = await auth.getAccessToken({ audience: values.audience, signal })
  console.log(access_token)
  return 0
}
// #endregion

async function logout(signal: AbortSignal): Promise<number> {
  const { deleted, revoked } = await auth.logout({ signal })
  if (!deleted) console.error('Not logged in.')
  else console.error(revoked ? 'Logged out.' : 'Logged out (the refresh token stays valid at the provider until it expires).')
  return 0
}

// #region errors
function exitCodeFor(error: unknown): number {
  if (!(error instanceof CliLoginError)) throw error
  console.error(`acme: ${error.message}`) // one line in acme's words, e.g. "not logged in: run acme login"
  if (error instanceof LoginRequiredError) return 4 // also SessionExpiredError and SessionMismatchError
  if (error.code === ErrorCode.LOGIN_CANCELLED) return 130
  return 1
}
// #endregion

async function run(command: string | undefined, args: string[], signal: AbortSignal): Promise<number> {
  switch (command) {
    case 'login':
      return login(args, signal)
    case 'whoami':
      return whoami(signal)
    case 'token':
      return token(args, signal)
    case 'logout':
      return logout(signal)
    default:
      console.error('usage: acme login [--device] | whoami | token [--audience <api>] | logout')
      return 2
  }
}

const controller = new AbortController()
process.once('SIGINT', () => controller.abort()) // Ctrl-C ends a login in progress
const [command, ...args] = process.argv.slice(2)
try {
  process.exitCode = await run(command, args, controller.signal)
} catch (error) {
  process.exitCode = exitCodeFor(error)
}
