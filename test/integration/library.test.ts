/** The library's seams: browser opener, pages, store and fetch replaced; typed errors. */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { CliLogin, AuthorizationError, ErrorCode, LoginRequiredError, LoginTimeoutError, type SessionStore, type Session, type ProfileSettings } from '../../src/index.ts'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider as startDemoProvider, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { loginOverHttp, type CallbackResponse } from '../helpers/http-browser.ts'
import { makeTempHome } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
let provider: DemoProvider
let home: Awaited<ReturnType<typeof makeTempHome>>

before(async () => {
  provider = await startDemoProvider()
  home = await makeTempHome()
})
after(async () => {
  await home.cleanup()
  await provider.close()
})

/** A store that keeps everything in memory. */
class MemoryStore implements SessionStore {
  sessions = new Map<string, Session>()
  settings = new Map<string, ProfileSettings>()
  async readSession(profile: string) {
    return this.sessions.get(profile)
  }
  async writeSession(profile: string, session: Session) {
    this.sessions.set(profile, structuredClone(session))
  }
  async deleteSession(profile: string) {
    return this.sessions.delete(profile)
  }
  async readSettings(profile: string) {
    return this.settings.get(profile) ?? {}
  }
  async writeSettings(profile: string, settings: ProfileSettings) {
    this.settings.set(profile, settings)
  }
  async listProfiles() {
    return [...this.sessions.keys()]
  }
  async withLock<T>(_profile: string, fn: () => Promise<T>) {
    return fn()
  }
  describe(profile: string) {
    return `memory:${profile}`
  }
}

test('opener, pages, store and fetch replaced: the login uses each, prints nothing and writes no file', async () => {
  const store = new MemoryStore()
  const requests: string[] = []
  const spyFetch: typeof fetch = (input, init) => {
    requests.push(String(input))
    return fetch(input, init)
  }
  let callback: Promise<CallbackResponse> | undefined
  const urls: string[] = []
  const auth = new CliLogin({
    appName: 'acme',
    issuer: provider.issuer,
    clientId: DEMO_CLIENT_ID,
    port: await findFreePortRange(5),
    home: home.dir,
    store,
    fetch: spyFetch,
    pages: { success: (info) => `<p>custom success for ${info.email}</p>`, failure: (info) => `<p>custom failure ${info.error}</p>` },
    openBrowser: async (url) => {
      callback = loginOverHttp(url, { username: alice.username, password: alice.password })
      return { opened: true, command: 'test' }
    },
    onAuthorizationUrl: ({ url }) => urls.push(url),
  })
  const printed: string[] = []
  const writes = { out: process.stdout.write, err: process.stderr.write }
  process.stdout.write = ((chunk: string) => printed.push(String(chunk)) > -1) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => printed.push(String(chunk)) > -1) as typeof process.stderr.write
  let result
  try {
    result = await auth.login()
  } finally {
    process.stdout.write = writes.out
    process.stderr.write = writes.err
  }
  assert.deepEqual(printed, [], 'the library printed nothing')
  assert.equal(result.subject, alice.sub)
  assert.equal((await callback!).body, `<p>custom success for ${alice.email}</p>`)
  assert.equal(urls.length, 1)
  assert.ok(requests.some((u) => u.endsWith('/.well-known/openid-configuration')), 'discovery went through the given fetch')
  assert.ok(requests.some((u) => u.endsWith('/oauth/token')), 'the code exchange went through the given fetch')
  assert.equal(store.sessions.get('default')?.user.sub, alice.sub)
  assert.deepEqual(await readdir(home.dir), [], 'nothing written to disk')
  const token = await auth.getAccessToken()
  assert.equal((await provider.verifyAccessToken(token.access_token))?.sub, alice.sub)
  const out = await auth.logout()
  assert.deepEqual({ deleted: out.deleted, revoked: out.revoked }, { deleted: true, revoked: true })
  await assert.rejects(auth.getAccessToken(), (e: unknown) => e instanceof LoginRequiredError && e.code === ErrorCode.LOGIN_REQUIRED)
})

test('typed errors: denied → AuthorizationError with the provider error; nobody answers → LoginTimeoutError', async () => {
  const store = new MemoryStore()
  const common = { appName: 'acme', issuer: provider.issuer, clientId: DEMO_CLIENT_ID, store, home: home.dir }
  const denied = new CliLogin({
    ...common,
    port: await findFreePortRange(5),
    openBrowser: async (url) => {
      void loginOverHttp(url, { username: alice.username, password: alice.password, action: 'deny' }).catch(() => {})
      return { opened: true, command: 'test' }
    },
  })
  await assert.rejects(denied.login(), (e: unknown) => {
    assert.ok(e instanceof AuthorizationError)
    assert.equal(e.code, ErrorCode.AUTHORIZATION_FAILED)
    assert.equal(e.error, 'access_denied')
    return true
  })
  const abandoned = new CliLogin({ ...common, port: await findFreePortRange(5), timeoutS: 0.3, openBrowser: async () => ({ opened: false, reason: 'disabled' }) })
  await assert.rejects(abandoned.login(), (e: unknown) => e instanceof LoginTimeoutError && e.code === ErrorCode.LOGIN_TIMEOUT)
  assert.equal(store.sessions.size, 0)
})
