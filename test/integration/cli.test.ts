/** The CLI run in-process against the embedded provider, with an HTTP "browser". */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_USERS, startTestProvider as startDemoProvider, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { cleanEnv, lastLine, makeTempHome } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice, bob] = DEMO_USERS
let provider: DemoProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startDemoProvider()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function setup(extraEnv: NodeJS.ProcessEnv = {}) {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(3)
  const env = cleanEnv(home.dir, extraEnv)
  const loginArgs = ['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3']
  return { env, port, loginArgs, sessionFile: join(home.dir, 'cli-login', 'profiles', 'default', 'session.json') }
}

describe('usage', () => {
  for (const [args, message] of [
    [['login', '--client-id', 'x'], /issuer is required/],
    [['login', '--token-endpoint', 'https://a/token'], /client id is required \(a server without metadata offers no client registration\)/],
    [['token', '--format', 'xml'], /--format must be one of raw, json, header/],
    [['login', '--bogus'], /unknown option --bogus/],
    [['status', '--profile', '../x'], /^cli-login: --profile must be letters, digits/],
  ] as const) {
    test(`${args.join(' ')} → exit 2, the usage line, then one line`, async () => {
      const { env } = await setup()
      const result = await runMain([...args], env)
      assert.equal(result.code, 2)
      const lines = result.stderr.trimEnd().split('\n')
      assert.match(lines.at(-2)!, /^usage: cli-login/)
      assert.match(lines.at(-1)!, message)
    })
  }

  test('unknown command and no command → exit 2', async () => {
    const { env } = await setup()
    assert.equal((await runMain(['frobnicate'], env)).code, 2)
    assert.equal((await runMain([], env)).code, 2)
    const help = await runMain(['--help'], env)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /callback-urls/)
  })

  test('a bad env var is named', async () => {
    const { env, loginArgs } = await setup({ CLI_LOGIN_TIMEOUT: 'soon' })
    const result = await runMain(loginArgs, env)
    assert.equal(result.code, 2)
    assert.match(lastLine(result.stderr), /CLI_LOGIN_TIMEOUT must be a number of seconds/)
  })
})

describe('login and the commands after it', () => {
  test('env vars configure the login; the profile remembers it for token/status/logout and the next login', async () => {
    const { env, port } = await setup()
    const loginEnv = { ...env, CLI_LOGIN_ISSUER: provider.issuer, CLI_LOGIN_CLIENT_ID: DEMO_CLIENT_ID, CLI_LOGIN_PORT: String(port), CLI_LOGIN_AUDIENCE: DEMO_AUDIENCE }
    const first = await runMain(['login'], loginEnv, { username: alice.username, password: alice.password })
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stderr, /no browser is opened/)

    const token = await runMain(['token', '--format', 'json'], env)
    assert.equal(token.code, 0, token.stderr)
    const json = JSON.parse(token.stdout)
    assert.deepEqual(Object.keys(json), ['access_token', 'token_type', 'expires_at'])
    assert.equal(json.token_type, 'Bearer')
    assert.ok(Number.isInteger(json.expires_at))
    assert.equal(decodeJwt(json.access_token).aud, DEMO_AUDIENCE)
    assert.equal((await provider.verifyAccessToken(json.access_token))?.sub, alice.sub)

    const header = await runMain(['token', '--format', 'header'], env)
    assert.equal(header.stdout, `Authorization: Bearer ${json.access_token}\n`)

    const status = JSON.parse((await runMain(['status', '--json'], env)).stdout)
    assert.equal(status.audience, DEMO_AUDIENCE)
    assert.equal(status.issuer, provider.issuer)

    // The next login needs no flags at all: the profile remembers issuer, client, port and audience.
    const refreshGrantsBefore = provider.stats.revocations
    const second = await runMain(['login'], env, { username: bob.username, password: bob.password })
    assert.equal(second.code, 0, second.stderr)
    const status2 = JSON.parse((await runMain(['status', '--json'], env)).stdout)
    assert.equal(status2.subject, bob.sub)
    assert.equal(status2.audience, DEMO_AUDIENCE)
    assert.equal(provider.stats.revocations, refreshGrantsBefore + 1, 'the replaced refresh token was revoked')
  })

  test('status in words; token with an expired token and no refresh token → exit 4', async () => {
    const { env, loginArgs, sessionFile } = await setup()
    const login = await runMain([...loginArgs, '--scope', 'openid profile email'], env, { username: alice.username, password: alice.password })
    assert.equal(login.code, 0, login.stderr)
    assert.match(login.stderr, /No refresh token was issued|Refresh token: no/)
    const status = await runMain(['status'], env)
    assert.match(status.stdout, new RegExp(`Logged in to ${provider.issuer.replace(/[/.]/g, '\\$&')} as ${alice.name}`))
    assert.match(status.stdout, /Refresh token: no/)
    const session = JSON.parse(await readFile(sessionFile, 'utf8'))
    session.expiresAt = Math.floor(Date.now() / 1000) - 10
    await writeFile(sessionFile, JSON.stringify(session))
    const token = await runMain(['token'], env)
    assert.equal(token.code, 4)
    assert.equal(token.stdout, '')
    assert.match(lastLine(token.stderr), /expired and there is no refresh token: run cli-login login/)
  })

  test('an unreadable session file → exit 1 naming the file; token does not overwrite it; login replaces it', async () => {
    const { env, loginArgs, sessionFile } = await setup()
    await mkdir(join(sessionFile, '..'), { recursive: true })
    await writeFile(sessionFile, '{"version": 1, "accessToken": ')
    for (const command of [['token'], ['status']]) {
      const result = await runMain(command, env)
      assert.equal(result.code, 1)
      assert.ok(lastLine(result.stderr).includes(sessionFile))
      assert.match(lastLine(result.stderr), /not a valid session.*run cli-login login to replace it/)
      assert.doesNotMatch(result.stderr, /\n\s+at /)
    }
    assert.equal(await readFile(sessionFile, 'utf8'), '{"version": 1, "accessToken": ')
    const login = await runMain(loginArgs, env, { username: alice.username, password: alice.password })
    assert.equal(login.code, 0, login.stderr)
    assert.equal((await runMain(['token'], env)).code, 0)
  })

  test('a broken settings file: commands that need it say so in one line; login with flags replaces it', async () => {
    const { env, loginArgs, sessionFile } = await setup()
    const settingsFile = join(sessionFile, '..', 'settings.json')
    await mkdir(join(sessionFile, '..'), { recursive: true })
    await writeFile(settingsFile, '{"port":"abc"}')
    const urls = await runMain(['callback-urls'], env)
    assert.equal(urls.code, 1)
    assert.match(lastLine(urls.stderr), /settings\.json is not a valid settings file \("port" is not a whole number\): delete it/)
    const login = await runMain(loginArgs, env, { username: alice.username, password: alice.password })
    assert.equal(login.code, 0, login.stderr)
    assert.equal(JSON.parse(await readFile(settingsFile, 'utf8')).issuer, provider.issuer)
  })

  test('logout deletes an unreadable session too', async () => {
    const { env, sessionFile } = await setup()
    await mkdir(join(sessionFile, '..'), { recursive: true })
    await writeFile(sessionFile, 'garbage')
    const result = await runMain(['logout'], env)
    assert.equal(result.code, 0)
    assert.equal((await runMain(['status'], env)).code, 4)
  })

  test('redirect host localhost and another path reach the provider as registered', async () => {
    const { env, loginArgs, port } = await setup()
    const result = await runMain([...loginArgs, '--redirect-host', 'localhost', '--redirect-path', '/cb', '--prompt', 'login', '--organization', 'org_123'], env, { username: alice.username, password: alice.password })
    assert.equal(result.code, 0, result.stderr)
    const request = provider.stats.authorizationRequests.at(-1)!
    assert.equal(request.get('redirect_uri'), `http://localhost:${port}/cb`)
    assert.equal(request.get('prompt'), 'login')
    assert.equal(request.get('organization'), 'org_123')
  })

  test('provider unreachable → exit 1, one line', async () => {
    const { env } = await setup()
    const port = await findFreePortRange(1)
    const result = await runMain(['login', '--issuer', `http://127.0.0.1:${port}/`, '--client-id', 'x'], env)
    assert.equal(result.code, 1)
    assert.match(lastLine(result.stderr), /could not reach the provider.*ECONNREFUSED/)
  })
})

describe('callback-urls', () => {
  test('one per line for the range; --format auth0 on one line; remembers the profile settings', async () => {
    const { env } = await setup()
    const lines = (await runMain(['callback-urls'], env)).stdout.trimEnd().split('\n')
    assert.equal(lines.length, 50)
    assert.equal(lines[0], 'http://127.0.0.1:4242/callback')
    assert.equal(lines[49], 'http://127.0.0.1:4291/callback')
    const auth0 = await runMain(['callback-urls', '--format', 'auth0', '--port', '5000', '--port-attempts', '3', '--redirect-host', 'localhost'], env)
    assert.equal(auth0.stdout, 'http://localhost:5000/callback,http://localhost:5001/callback,http://localhost:5002/callback\n')
    const { FileSessionStore } = await import('../../src/session/file-store.ts')
    await new FileSessionStore(env.CLI_LOGIN_HOME!).writeSettings('default', { issuer: provider.issuer, clientId: 'c', port: 7000, portAttempts: 2, redirectPath: '/cb' })
    assert.equal((await runMain(['callback-urls'], env)).stdout, 'http://127.0.0.1:7000/cb\nhttp://127.0.0.1:7001/cb\n')
    assert.equal((await runMain(['callback-urls', '--port', '8000'], env)).stdout, 'http://127.0.0.1:8000/cb\nhttp://127.0.0.1:8001/cb\n')
  })
})
