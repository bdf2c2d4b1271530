/**
 * Two tools that embed cli-login, side by side on one machine, logged in with real headless
 * Chromium: examples/mytool (JavaScript, appName "mytool") and examples/acme-ts (TypeScript,
 * appName "acme", displayName "Acme CLI"). Each keeps its own storage, shows its own name on the
 * pages and says its own words in errors; one's logout leaves the other logged in; one login gives
 * acme a token for a second API.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import type { Browser } from 'playwright-core'
import { DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_SECOND_AUDIENCE, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, lastLine, makeTempHome } from '../helpers/cli.ts'
import { ACME, MYTOOL, runTool, startTool } from '../helpers/example-tools.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice, bob] = DEMO_USERS
const ACME_API = 'https://api.acme.example/'
let provider: TestProvider
let browser: Browser
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider({ clients: [{ clientId: 'acme-cli', clientName: 'Acme CLI' }], audiences: [ACME_API] })
  browser = await launchChromium()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await browser?.close()
  await provider?.close()
})

/** Logs a tool in: the URL it prints on stderr, opened in Chromium; returns the tool's result and the page the browser ended on. */
async function loginWithChromium(tool: string, env: NodeJS.ProcessEnv, user: { username: string; password: string }) {
  const running = startTool(tool, ['login'], env)
  const page = await loginInChromium(browser, await running.url, user)
  return { page, result: await running.result }
}

test('mytool and acme on one machine: own storage, own words, independent logouts, a second API from one login', async () => {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const xdg = join(home.dir, 'xdg')
  // One user's environment: no CLI_LOGIN_HOME, no display (the URL is printed), XDG_CONFIG_HOME shared.
  const machine = cleanEnv(home.dir, { CLI_LOGIN_HOME: undefined, XDG_CONFIG_HOME: xdg })
  const mytoolEnv = { ...machine, MYTOOL_ISSUER: provider.issuer, MYTOOL_CLIENT_ID: DEMO_CLIENT_ID, MYTOOL_AUDIENCE: DEMO_AUDIENCE, MYTOOL_API_URL: provider.issuer, MYTOOL_PORT: String(await findFreePortRange(50)) }
  const acmeEnv = { ...machine, ACME_ISSUER: provider.issuer, ACME_API_URL: provider.issuer, ACME_PORT: String(await findFreePortRange(50)) }

  // Both log in at the same time, as different users.
  const [mytool, acme] = await Promise.all([
    loginWithChromium(MYTOOL, mytoolEnv, { username: bob.username, password: bob.password }),
    loginWithChromium(ACME, acmeEnv, { username: alice.username, password: alice.password }),
  ])
  assert.equal(mytool.result.code, 0, mytool.result.stderr)
  assert.equal(acme.result.code, 0, acme.result.stderr)
  // Each tool's name on its page, and not the other's (nor cli-login's).
  assert.equal(acme.page.status, 200)
  assert.match(acme.page.text, /You are logged in to Acme CLI/)
  assert.match(acme.page.text, new RegExp(`Signed in as ${alice.name}`))
  assert.doesNotMatch(acme.page.text, /mytool|cli-login/)
  assert.match(mytool.page.text, /You are logged in to mytool/)
  assert.match(mytool.page.text, new RegExp(`Signed in as ${bob.name}`))
  assert.doesNotMatch(mytool.page.text, /Acme|cli-login/)

  // Separate storage.
  assert.deepEqual((await readdir(xdg)).sort(), ['acme', 'mytool'])
  const acmeSession = JSON.parse(await readFile(join(xdg, 'acme', 'profiles', 'default', 'session.json'), 'utf8'))
  const mytoolSession = JSON.parse(await readFile(join(xdg, 'mytool', 'profiles', 'default', 'session.json'), 'utf8'))
  assert.equal(acmeSession.user.sub, alice.sub)
  assert.equal(acmeSession.clientId, 'acme-cli')
  assert.equal(mytoolSession.user.sub, bob.sub)

  // Both work, each as its own user.
  const [acmeWho, mytoolWho] = await Promise.all([runTool(ACME, ['whoami'], acmeEnv), runTool(MYTOOL, ['whoami'], mytoolEnv)])
  assert.equal(acmeWho.code, 0, acmeWho.stderr)
  assert.match(acmeWho.stdout, new RegExp(`^${alice.name} <${alice.email}>$`, 'm'))
  assert.equal(mytoolWho.stdout, `${bob.name} <${bob.email}>\n`)

  // A token for a second API from acme's one login.
  const billing = await runTool(ACME, ['token', '--audience', DEMO_SECOND_AUDIENCE], acmeEnv)
  assert.equal(billing.code, 0, billing.stderr)
  const claims = decodeJwt(billing.stdout.trim())
  assert.deepEqual([claims.aud].flat(), [DEMO_SECOND_AUDIENCE])
  assert.equal(claims.sub, alice.sub)
  assert.equal((await provider.verifyAccessToken(billing.stdout.trim()))?.sub, alice.sub)

  // acme logs out: mytool stays logged in; each says its own words.
  assert.equal((await runTool(ACME, ['logout'], acmeEnv)).code, 0)
  const acmeAfter = await runTool(ACME, ['token'], acmeEnv)
  assert.equal(acmeAfter.code, 4)
  assert.equal(lastLine(acmeAfter.stderr), 'acme: not logged in: run acme login')
  const mytoolAfter = await runTool(MYTOOL, ['whoami'], mytoolEnv)
  assert.equal(mytoolAfter.code, 0, mytoolAfter.stderr)
  assert.equal(mytoolAfter.stdout, `${bob.name} <${bob.email}>\n`)

  assert.equal((await runTool(MYTOOL, ['logout'], mytoolEnv)).code, 0)
  const mytoolGone = await runTool(MYTOOL, ['whoami'], mytoolEnv)
  assert.equal(mytoolGone.code, 4)
  assert.equal(lastLine(mytoolGone.stderr), 'mytool: not logged in: run mytool login')
})

test('a denied login: the failure page in the tool\'s name, the error in its words', async () => {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const env = cleanEnv(home.dir, { CLI_LOGIN_HOME: undefined, XDG_CONFIG_HOME: join(home.dir, 'xdg'), ACME_ISSUER: provider.issuer, ACME_PORT: String(await findFreePortRange(50)) })
  const running = startTool(ACME, ['login'], env)
  const page = await loginInChromium(browser, await running.url, { username: alice.username, password: alice.password, action: 'deny' })
  assert.match(page.text, /Acme CLI login failed/)
  assert.match(page.text, /access_denied/)
  const result = await running.result
  assert.equal(result.code, 1)
  assert.match(lastLine(result.stderr), /^acme: the provider refused the login: access_denied/)
})
