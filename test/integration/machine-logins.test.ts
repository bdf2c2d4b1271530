/**
 * Logins without a person (issue 16 item 6, issue 18 item 4), through the built CLI against the
 * test kit's provider: client credentials with a secret and with private_key_jwt (the key copied
 * into the session's secrets: the 0600 file here, the keychain in the last suite), and workload
 * identity federation from the kit's stand-in CI token service (GitHub's variables, a GitLab-style
 * variable, a file) by the JWT bearer grant and by token exchange. No browser is ever opened
 * (BROWSER would fail the test), no refresh token is stored, and an expired token is replaced by
 * the same grant again; refused grants are one line, exit 1 at login and 4 at token. Then
 * enterprise-managed authorization: a session at one kit provider (the identity provider) gives a
 * token for a resource whose authorization server, another kit provider, trusts its ID-JAGs.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEMO_USERS, startCiTokenService, startProtectedResource, startTestProvider, type CiTokenService, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { loggedIn } from '../helpers/logged-in.ts'
import { cleanEnv, lastLine, makeTempHome, runCli } from '../helpers/cli.ts'
import { isSecretServiceInstalled, secretTool, startSecretService, type SecretService } from '../helpers/secret-service.ts'

const SERVICE_CLIENT = { clientId: 'acme-ci-service', clientSecret: 'ci-s3cret-with-dash-and.dot' }
const KEY_CLIENT_ID = 'acme-ci-keyed'
const WORKLOAD_CLIENT_ID = 'acme-ci-workload'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag'
/** A command that fails the test if a login ever starts a browser. */
const NO_BROWSER = { BROWSER: 'false-browser-must-not-run' }

const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const privatePem = keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const publicJwk = { ...keyPair.publicKey.export({ format: 'jwk' }), kid: 'ci-key-1', alg: 'ES256', use: 'sig' }

let provider: TestProvider
let ci: CiTokenService
const cleanups: Array<() => Promise<void>> = []
before(async () => {
  ci = await startCiTokenService()
  provider = await startTestProvider({
    clients: [SERVICE_CLIENT, { clientId: KEY_CLIENT_ID, jwks: { keys: [publicJwk] } }, { clientId: WORKLOAD_CLIENT_ID }],
    trustedAssertionIssuers: [ci],
  })
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
  await ci.close()
})

async function setup(extra: NodeJS.ProcessEnv = {}) {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const env = cleanEnv(temp.dir, { ...NO_BROWSER, ...extra })
  return { dir: temp.dir, env, home: join(temp.dir, 'cli-login'), session: join(temp.dir, 'cli-login', 'profiles', 'default', 'session.json') }
}

async function storedSession(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
}

/** Every request the provider saw that a browser would make. */
function browserRequests(): number {
  return provider.stats.authorizationRequests.length
}

describe('login --client-credentials', () => {
  test('with a client secret: no browser, no refresh token; token prints the grant\'s token and makes the grant again once it expires', async () => {
    const { env, session } = await setup({ CLI_LOGIN_CLIENT_SECRET: SERVICE_CLIENT.clientSecret })
    const before = { grants: provider.stats.grants.client_credentials ?? 0, browser: browserRequests() }
    const login = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', SERVICE_CLIENT.clientId], env)
    assert.equal(login.code, 0, login.stderr)
    assert.equal(login.stdout, '')
    assert.match(login.stderr, /Refresh token: no/)
    assert.match(login.stderr, /No refresh token by design: once the token expires, cli-login token makes the client credentials grant again\./)
    assert.equal(browserRequests(), before.browser)
    assert.equal(provider.stats.grants.client_credentials, before.grants + 1)
    const stored = await storedSession(session)
    assert.equal(stored.grant, 'client-credentials')
    assert.equal(stored.refreshToken, undefined)
    assert.equal(stored.clientSecret, SERVICE_CLIENT.clientSecret)
    assert.equal((await stat(session)).mode & 0o777, 0o600)

    const first = await runCli(['token'], env)
    assert.equal(first.code, 0, first.stderr)
    const token = first.stdout.trim()
    assert.equal(token, stored.accessToken)
    assert.deepEqual((await provider.verifyAccessToken(token))?.sub, SERVICE_CLIENT.clientId)
    assert.equal(provider.stats.grants.client_credentials, before.grants + 1, 'a fresh token is printed without a grant')

    // Expired as far as the CLI is concerned (less left than --min-ttl): the grant, again.
    const renewed = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(renewed.code, 0, renewed.stderr)
    assert.notEqual(renewed.stdout.trim(), token)
    assert.ok(await provider.verifyAccessToken(renewed.stdout.trim()))
    assert.equal(provider.stats.grants.client_credentials, before.grants + 2)
    assert.equal((await storedSession(session)).accessToken, renewed.stdout.trim())
  })

  test('with --private-key (private_key_jwt): the key is copied at login, the file is not read again, logout deletes it', async () => {
    const { dir, env, session } = await setup()
    const keyFile = join(dir, 'ci-key.pem')
    await writeFile(keyFile, privatePem, { mode: 0o600 })
    const login = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', KEY_CLIENT_ID, '--private-key', keyFile], env)
    assert.equal(login.code, 0, login.stderr)
    assert.equal((await storedSession(session)).privateKey, privatePem)
    await rm(keyFile)
    const renewed = await runCli(['token', '--min-ttl', '100000', '--format', 'json'], env)
    assert.equal(renewed.code, 0, renewed.stderr)
    const { access_token } = JSON.parse(renewed.stdout) as { access_token: string }
    assert.equal((await provider.verifyAccessToken(access_token))?.sub, KEY_CLIENT_ID)
    const logout = await runCli(['logout'], env)
    assert.equal(logout.code, 0, logout.stderr)
    await assert.rejects(stat(session))
  })

  test('a key the server does not know, a missing key file, a key that is not one: one line each', async () => {
    const { dir, env } = await setup()
    const otherKey = join(dir, 'other.pem')
    await writeFile(otherKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
    const refused = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', KEY_CLIENT_ID, '--private-key', otherKey], env)
    assert.equal(refused.code, 1, refused.stderr)
    assert.match(lastLine(refused.stderr), /invalid_client/)
    assert.doesNotMatch(refused.stderr, /\n\s+at /)
    const missing = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', KEY_CLIENT_ID, '--private-key', join(dir, 'nope.pem')], env)
    assert.equal(missing.code, 2)
    assert.match(lastLine(missing.stderr), /--private-key: cannot read .*nope\.pem \(ENOENT\)/)
    const notKey = join(dir, 'not-a-key.pem')
    await writeFile(notKey, 'hello')
    const bad = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', KEY_CLIENT_ID, '--private-key', notKey], env)
    assert.equal(bad.code, 2)
    assert.match(lastLine(bad.stderr), /--private-key is not a private key \(PEM or JWK\)/)
    const noSecret = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', SERVICE_CLIENT.clientId], env)
    assert.equal(noSecret.code, 2)
    assert.match(lastLine(noSecret.stderr), /^cli-login: --client-secret \(or --private-key\) is required for the client credentials grant$/)
  })

  test('the grant refused when the token expires: exit 4 at token (run login again), the session left as it was', async () => {
    const { env, session } = await setup({ CLI_LOGIN_CLIENT_SECRET: SERVICE_CLIENT.clientSecret })
    assert.equal((await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', SERVICE_CLIENT.clientId], env)).code, 0)
    const before = await readFile(session, 'utf8')
    provider.faults.tokenEndpoint = { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'client revoked' }), times: 1 }
    const refused = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(refused.code, 4, refused.stderr)
    assert.equal(refused.stdout, '')
    assert.match(lastLine(refused.stderr), /invalid_client.*run cli-login login$/)
    assert.equal(await readFile(session, 'utf8'), before)
    provider.faults.tokenEndpoint = { status: 503, body: 'down', contentType: 'text/plain', times: 1 }
    const down = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(down.code, 1, 'a server that is down is no reason to log in again')
  })
})

describe('login --federated', () => {
  test('github: the Actions token for the issuer, exchanged by the JWT bearer grant; token fetches and exchanges a new one when it expires', async () => {
    const { env, session } = await setup(ci.githubEnv)
    const seen = { ci: ci.stats.requests, grants: provider.stats.grants[JWT_BEARER] ?? 0 }
    const login = await runCli(['login', '--federated', 'github', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(login.code, 0, login.stderr)
    assert.equal(ci.stats.requests, seen.ci + 1)
    assert.equal(ci.stats.audiences.at(-1), provider.issuer, 'the audience defaults to the issuer')
    assert.match(login.stderr, /cli-login token fetches a new CI token and exchanges it again/)
    assert.equal(provider.stats.grants[JWT_BEARER], seen.grants + 1)
    const stored = await storedSession(session)
    assert.equal(stored.grant, 'jwt-bearer')
    assert.equal(stored.federated, 'github')
    assert.equal(stored.refreshToken, undefined)
    assert.equal((await provider.verifyAccessToken(stored.accessToken as string))?.sub, 'repo:acme/app:ref:refs/heads/main')

    const cached = await runCli(['token'], env)
    assert.equal(cached.stdout.trim(), stored.accessToken)
    assert.equal(ci.stats.requests, seen.ci + 1, 'a fresh token: no CI token fetched')

    const renewed = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(renewed.code, 0, renewed.stderr)
    assert.equal(ci.stats.requests, seen.ci + 2)
    assert.equal(provider.stats.grants[JWT_BEARER], seen.grants + 2)
    assert.notEqual(renewed.stdout.trim(), stored.accessToken)
    assert.ok(await provider.verifyAccessToken(renewed.stdout.trim()))
  })

  test('--federated-grant token-exchange, from a file', async () => {
    const { dir, env } = await setup()
    const file = join(dir, 'ci-token')
    await writeFile(file, `${await ci.mint({ audience: provider.issuer })}\n`)
    const seen = provider.stats.grants[TOKEN_EXCHANGE] ?? 0
    const login = await runCli(['login', '--federated', `file:${file}`, '--federated-grant', 'token-exchange', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(login.code, 0, login.stderr)
    assert.equal(provider.stats.grants[TOKEN_EXCHANGE], seen + 1)
  })

  test('a refused assertion (another audience, expired): one line, exit 1 at login; exit 4 at token', async () => {
    const wrongAudience = await ci.mint({ audience: 'https://someone-else.example/' })
    const expired = await ci.mint({ audience: provider.issuer, expiresInS: -60 })
    const { env } = await setup({ CI_JOB_JWT_V2: wrongAudience, CI_EXPIRED: expired })
    const wrong = await runCli(['login', '--federated', 'gitlab:CI_JOB_JWT_V2', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(wrong.code, 1, wrong.stderr)
    assert.match(lastLine(wrong.stderr), /invalid_grant.*another audience/)
    assert.doesNotMatch(wrong.stderr, /\n\s+at /)
    const old = await runCli(['login', '--federated', 'env:CI_EXPIRED', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(old.code, 1, old.stderr)
    assert.match(lastLine(old.stderr), /invalid_grant.*expired/)

    const valid = await ci.mint({ audience: provider.issuer })
    assert.equal((await runCli(['login', '--federated', 'env:CI_TOKEN', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], { ...env, CI_TOKEN: valid })).code, 0)
    const atToken = await runCli(['token', '--min-ttl', '100000'], { ...env, CI_TOKEN: expired })
    assert.equal(atToken.code, 4, atToken.stderr)
    assert.match(lastLine(atToken.stderr), /invalid_grant.*expired.*run cli-login login$/)
    const unset = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(unset.code, 1)
    assert.match(lastLine(unset.stderr), /the variable CI_TOKEN is not set/)
  })

  test('github with --federated-audience: the token asked for that audience (which this server refuses)', async () => {
    const { env } = await setup(ci.githubEnv)
    const login = await runCli(['login', '--federated', 'github', '--federated-audience', 'https://api.acme.example/', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(ci.stats.audiences.at(-1), 'https://api.acme.example/')
    assert.equal(login.code, 1)
    assert.match(lastLine(login.stderr), /invalid_grant.*another audience/)
  })

  test('github outside a job, a source that is none, flags that do not go together: one line each', async () => {
    const { env } = await setup()
    const outside = await runCli(['login', '--federated', 'github', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(outside.code, 1)
    assert.match(lastLine(outside.stderr), /ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set/)
    const bad = await runCli(['login', '--federated', 'jenkins', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(bad.code, 2)
    assert.match(lastLine(bad.stderr), /^cli-login: --federated must be github, gitlab:<VARIABLE>, env:<VARIABLE> or file:<path>, not "jenkins"/)
    const both = await runCli(['login', '--federated', 'github', '--client-credentials', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(both.code, 2)
    const noWait = await runCli(['login', '--federated', 'github', '--no-wait', '--issuer', provider.issuer, '--client-id', WORKLOAD_CLIENT_ID], env)
    assert.equal(noWait.code, 2)
    assert.match(lastLine(noWait.stderr), /--no-wait cannot be used with --federated/)
  })
})

const skipKeychain = isSecretServiceInstalled() ? false : 'gnome-keyring, dbus or secret-tool not installed (scripts/ci/install-secret-service.sh)'

describe('private_key_jwt with the keychain', { skip: skipKeychain }, () => {
  let secretService: SecretService
  before(async () => {
    secretService = await startSecretService()
  })
  after(async () => {
    await secretService?.stop()
  })

  test('the private key is in the keychain item, in no file; a new token is signed with it; logout leaves nothing', async () => {
    const { dir, env, home } = await setup({ ...secretService.env, CLI_LOGIN_STORAGE: 'keychain' })
    const keyFile = join(dir, 'ci-key.pem')
    await writeFile(keyFile, privatePem, { mode: 0o600 })
    const login = await runCli(['login', '--client-credentials', '--issuer', provider.issuer, '--client-id', KEY_CLIENT_ID, '--private-key', keyFile], env)
    assert.equal(login.code, 0, login.stderr)
    await rm(keyFile)
    const keyLine = privatePem.split('\n')[1]
    for (const entry of await readdir(home, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) assert.ok(!(await readFile(join(entry.parentPath, entry.name), 'utf8')).includes(keyLine), `${entry.name} holds no key`)
    }
    assert.notEqual(secretTool(secretService.env, ['search', '--all', 'service', 'cli-login']).stdout, '')
    const renewed = await runCli(['token', '--min-ttl', '100000'], env)
    assert.equal(renewed.code, 0, renewed.stderr)
    assert.equal((await provider.verifyAccessToken(renewed.stdout.trim()))?.sub, KEY_CLIENT_ID)
    assert.equal((await runCli(['logout'], env)).code, 0)
    assert.equal(secretTool(secretService.env, ['search', '--all', 'service', 'cli-login']).stdout, '')
  })
})

describe('enterprise-managed authorization (ID-JAG)', () => {
  let idp: TestProvider
  let mcpServer: TestProvider
  let resource: ProtectedResource
  before(async () => {
    idp = await startTestProvider()
    // The MCP server's authorization server trusts the identity provider's ID-JAGs; the client there has the same id.
    mcpServer = await startTestProvider({ trustedAssertionIssuers: [idp], discovery: 'oauth2', clients: [{ clientId: 'other-mcp-client' }] })
    resource = await startProtectedResource({ authorizationServer: mcpServer })
  })
  after(async () => {
    await resource?.close()
    await mcpServer?.close()
    await idp?.close()
  })

  test('a session at the identity provider gives a token for an MCP server whose authorization server trusts it, with no browser; cached, then got again when it expires', async () => {
    const [alice] = DEMO_USERS
    const session = await loggedIn(idp, cleanups)
    const env = { ...session.env, ...NO_BROWSER }
    const before = { idJags: idp.stats.grants[ID_JAG] ?? 0, bearer: mcpServer.stats.grants[JWT_BEARER] ?? 0, browser: idp.stats.authorizationRequests.length }
    const first = await runCli(['token', '--resource', resource.url], env)
    assert.equal(first.code, 0, first.stderr)
    const token = first.stdout.trim()
    assert.equal((await mcpServer.verifyAccessToken(token))?.sub, alice.sub, 'the token is for the user the identity provider knows')
    assert.equal(await idp.verifyAccessToken(token), undefined, "it is the MCP server's authorization server's token")
    assert.equal(idp.stats.grants[ID_JAG], before.idJags + 1)
    assert.equal(mcpServer.stats.grants[JWT_BEARER], before.bearer + 1)
    assert.equal(idp.stats.authorizationRequests.length, before.browser)
    const stored = (await session.session()).targets ?? {}
    const kept = Object.values(stored).find((t) => t.accessToken === token)
    assert.equal(kept?.authorizationServer, mcpServer.issuer)

    const cached = await runCli(['token', '--resource', resource.url], env)
    assert.equal(cached.stdout.trim(), token)
    assert.equal(idp.stats.grants[ID_JAG], before.idJags + 1, 'a fresh token: no exchange')

    const renewed = await runCli(['token', '--resource', resource.url, '--min-ttl', '100000'], env)
    assert.equal(renewed.code, 0, renewed.stderr)
    assert.notEqual(renewed.stdout.trim(), token)
    assert.equal(idp.stats.grants[ID_JAG], before.idJags + 2)
    assert.equal((await mcpServer.verifyAccessToken(renewed.stdout.trim()))?.sub, alice.sub)
    // The session's own token is still the identity provider's.
    const own = await runCli(['token'], env)
    assert.ok(await idp.verifyAccessToken(own.stdout.trim()))
  })

  test('an ID-JAG the authorization server refuses (it was issued for another client): exit 4, one line', async () => {
    const session = await loggedIn(idp, cleanups)
    const refused = await runCli(['token', '--resource', resource.url, '--client-id', 'other-mcp-client'], { ...session.env, ...NO_BROWSER })
    assert.equal(refused.code, 4, refused.stderr)
    assert.match(lastLine(refused.stderr), /invalid_grant.*issued for the client .*run cli-login login$/)
    assert.equal((await runCli(['token'], session.env)).code, 0, "the session's own token is untouched")
  })
})
