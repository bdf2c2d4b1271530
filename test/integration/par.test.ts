/**
 * Pushed authorization requests (RFC 9126) against the kit's provider (oidc-provider,
 * `features.pushedAuthorizationRequests`): pushed when offered or required, the browser given
 * `client_id` + `request_uri` only, the endpoint's errors in the terminal before any browser, the
 * plain request once for a server that will not take a push from a public client, PAR + DPoP, the
 * two-step login's expiry, and the CLI's --par.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { ProviderError } from '../../src/index.ts'
import { libraryLogins } from '../helpers/library-logins.ts'
import { cleanEnv, makeTempHome } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { decodeTerminalQr, qrLines } from '../helpers/terminal-qr.ts'

const [alice] = DEMO_USERS
const REQUIRES_PAR = 'par-required'
const DPOP = 'par-dpop'
let offered: TestProvider
let refusing: TestProvider
let none: TestProvider
let requiring: TestProvider
const logins = libraryLogins()

before(async () => {
  offered = await startTestProvider({ par: true, clients: [{ clientId: REQUIRES_PAR, par: true }, { clientId: DPOP, dpop: true }, { clientId: 'plain' }] })
  refusing = await startTestProvider({ par: true, parRefusesPublicClients: true, clients: [{ clientId: 'plain' }] })
  none = await startTestProvider({ clients: [{ clientId: 'plain' }] })
  requiring = await startTestProvider({ par: 'required', clients: [{ clientId: 'plain' }] })
  for (const provider of [offered, refusing, none, requiring]) logins.closeAfter(() => provider.close())
})

test('auto: a server that offers PAR gets the parameters pushed; the browser URL is client_id + request_uri only', async () => {
  const seen = { urls: [] as string[] }
  const pushes = offered.stats.pushedAuthorizationRequests.length
  const auth = logins.auth({ issuer: offered.issuer, clientId: 'plain', storage: 'file', onAuthorizationUrl: ({ url }) => void seen.urls.push(url) })
  await auth.login()
  assert.equal(offered.stats.pushedAuthorizationRequests.length, pushes + 1)
  const pushed = offered.stats.pushedAuthorizationRequests.at(-1)!.params
  assert.equal(pushed.get('code_challenge_method'), 'S256')
  assert.ok(pushed.get('state'))
  const url = new URL(seen.urls[0])
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'])
})

test('a client that requires PAR logs in with auto; par: false sends the plain request (and the server refuses it on its page)', async () => {
  const result = await logins.auth({ issuer: offered.issuer, clientId: REQUIRES_PAR, storage: 'file' }).login()
  assert.equal(result.issuer, offered.issuer)
  const plain: string[] = []
  await assert.rejects(logins.auth({ issuer: offered.issuer, clientId: REQUIRES_PAR, storage: 'file', par: false, timeoutS: 3, onAuthorizationUrl: ({ url }) => void plain.push(url) }).login())
  assert.ok(new URL(plain[0]).searchParams.has('code_challenge'), 'the plain request')
})

test("the PAR endpoint's error (an unregistered redirect URI) fails the login before any browser opens", async () => {
  let opened = false
  const auth = logins.auth({
    issuer: offered.issuer,
    clientId: 'plain',
    storage: 'file',
    redirectPath: '/not-registered',
    openBrowser: async () => {
      opened = true
      return { opened: true, command: 'test' }
    },
  })
  await assert.rejects(auth.login(), (error: unknown) => error instanceof ProviderError && /pushed authorization request with invalid_request: redirect_uri did not match/.test(error.message))
  assert.equal(opened, false)
})

test('a server that refuses PAR from a public client: the plain request, once, with a debug line', async () => {
  const debug: string[] = []
  const urls: string[] = []
  const auth = logins.auth({ issuer: refusing.issuer, clientId: 'plain', storage: 'file', onDebug: (line) => debug.push(line), onAuthorizationUrl: ({ url }) => void urls.push(url) })
  await auth.login()
  assert.equal(refusing.stats.pushedAuthorizationRequests.length, 1)
  assert.ok(new URL(urls[0]).searchParams.has('code_challenge'))
  assert.ok(debug.some((line) => /par: the server refused a pushed request from this client/.test(line)), debug.join('\n'))
})

test('par: true without a PAR endpoint: one error, no browser', async () => {
  let opened = false
  const auth = logins.auth({ issuer: none.issuer, clientId: 'plain', storage: 'file', par: true, openBrowser: async () => ((opened = true), { opened: true, command: 'test' }) })
  await assert.rejects(auth.login(), (error: unknown) => error instanceof ProviderError && error.error === 'par_unsupported')
  assert.equal(opened, false)
  // auto with no endpoint: the plain request.
  const result = await logins.auth({ issuer: none.issuer, clientId: 'plain', storage: 'file' }).login()
  assert.equal(result.issuer, none.issuer)
})

test('PAR + DPoP: the push carries a proof and dpop_jkt; the session is DPoP-bound', async () => {
  const result = await logins.auth({ issuer: offered.issuer, clientId: DPOP, storage: 'file', dpop: true }).login()
  const push = offered.stats.pushedAuthorizationRequests.at(-1)!
  assert.equal(push.dpop, true)
  assert.equal(push.params.get('dpop_jkt'), result.jkt)
  assert.equal(result.token_type, 'DPoP')
})

test('two steps: auto does not push for a login finished later unless the server requires it (require_pushed_authorization_requests); then makes the pending login expire with its request_uri', async () => {
  const pushes = offered.stats.pushedAuthorizationRequests.length
  const later = await logins.auth({ issuer: offered.issuer, clientId: 'plain', storage: 'file' }).startLogin()
  assert.equal(offered.stats.pushedAuthorizationRequests.length, pushes)
  assert.ok(new URL(later.url).searchParams.has('code_challenge'))
  const now = Math.floor(Date.now() / 1000)
  const required = await logins.auth({ issuer: requiring.issuer, clientId: 'plain', storage: 'file', timeoutS: 3600 }).startLogin()
  assert.equal(requiring.stats.pushedAuthorizationRequests.length, 1)
  assert.ok(new URL(required.url).searchParams.has('request_uri'))
  // oidc-provider's request_uri lives 60 s by default, far less than the hour asked for.
  assert.ok(required.expiresAt <= now + 61, `${required.expiresAt - now} s`)
})

test('CLI: login --par on pushes (and the profile remembers it); --par off does not', async () => {
  const home = await makeTempHome()
  logins.closeAfter(home.cleanup)
  const env = cleanEnv(home.dir)
  const base = ['login', '--issuer', offered.issuer, '--client-id', 'plain', '--port', String(logins.firstPort), '--port-attempts', '4']
  const pushes = offered.stats.pushedAuthorizationRequests.length
  const on = await runMain([...base, '--par'], env, { username: alice.username, password: alice.password })
  assert.equal(on.code, 0, on.stderr)
  assert.equal(offered.stats.pushedAuthorizationRequests.length, pushes + 1)
  const off = await runMain([...base, '--par', 'off'], env, { username: alice.username, password: alice.password })
  assert.equal(off.code, 0, off.stderr)
  assert.equal(offered.stats.pushedAuthorizationRequests.length, pushes + 1)
  const error = await runMain([...base, '--par', 'on', '--redirect-path', '/not-registered'], env)
  assert.equal(error.code, 1)
  assert.match(error.stderr.trim().split('\n').at(-1) as string, /pushed authorization request with invalid_request: redirect_uri did not match/)
  assert.doesNotMatch(error.stderr, /https?:\/\/127\.0\.0\.1:\d+\/authorize/, 'no authorization URL printed')
})

test('CLI: with PAR the authorization URL is short enough for --qr: the QR code on stderr decodes to it', async () => {
  const home = await makeTempHome()
  logins.closeAfter(home.cleanup)
  const env = cleanEnv(home.dir)
  const result = await runMain(['login', '--issuer', offered.issuer, '--client-id', 'plain', '--port', String(logins.firstPort), '--port-attempts', '4', '--qr'], env, { username: alice.username, password: alice.password })
  assert.equal(result.code, 0, result.stderr)
  const url = result.stderr.split('\n').find((line) => /^https?:\/\/\S+\/authorize\?/.test(line))!
  assert.ok(url.length <= 256, url)
  assert.deepEqual([...new URL(url).searchParams.keys()].sort(), ['client_id', 'request_uri'])
  assert.equal(decodeTerminalQr(qrLines(result.stderr)), url)
})
