/**
 * The core journeys against a second real provider nobody here wrote: Debian's glewlwyd 2.7.5
 * (test/helpers/glewlwyd.ts starts a private instance on 127.0.0.1), through the built cli-login
 * CLI, with real headless Chromium on glewlwyd's own login pages. glewlwyd refuses an openid
 * request without a nonce, rotates one-use refresh tokens and answers a replayed one with an empty
 * HTTP 400, refuses revocation to a public client (401) and asks before ending a session.
 * Skipped only when glewlwyd is not installed (.ci/run installs it with scripts/ci/install-glewlwyd.sh).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext } from 'playwright-core'
import { launchChromium, launchChromiumElsewhere } from '../helpers/chromium.ts'
import { BIN, cleanEnv, lastLine, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { startElsewhereNetwork, type ElsewhereNetwork } from '../helpers/elsewhere-network.ts'
import { isTmuxInstalled, startTerminal } from '../helpers/tmux.ts'
import { glewlwydBinary, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.ts'
import { approveDeviceWithChromium, endSessionWithChromium, signInWithChromium } from '../helpers/glewlwyd-browser.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const skip = glewlwydBinary() ? false : 'glewlwyd is not installed (run scripts/ci/install-glewlwyd.sh as root)'
const RECORDING_BROWSER = fileURLToPath(new URL('../helpers/recording-browser.mjs', import.meta.url))

describe('glewlwyd 2.7.5 through the cli-login CLI and real Chromium', { skip }, () => {
  let glewlwyd: Glewlwyd
  let browser: Browser
  let firstPort: number
  const cleanups: Array<() => Promise<void>> = []

  before(async () => {
    firstPort = await findFreePortRange(3)
    glewlwyd = await startGlewlwyd({ redirectPorts: { first: firstPort, count: 3 }, deviceInterval: 1 })
    browser = await launchChromium()
  })

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    await browser?.close()
    await glewlwyd?.stop()
  })

  async function profile() {
    const temp = await makeTempHome()
    cleanups.push(temp.cleanup)
    const recordFile = join(temp.dir, 'browser.json')
    const env = cleanEnv(temp.dir)
    const sessionFile = join(temp.dir, 'cli-login', 'profiles', 'default', 'session.json')
    return {
      env,
      sessionFile,
      recordFile,
      recordingBrowser: `${process.execPath} ${RECORDING_BROWSER} ${recordFile} record`,
      session: async () => JSON.parse(await readFile(sessionFile, 'utf8')),
    }
  }

  const loginArgs = () => ['login', '--issuer', glewlwyd.issuer, '--client-id', glewlwyd.clientId, '--port', String(firstPort), '--port-attempts', '3', '--no-browser', '--timeout', '60']

  /** The browser login with the default scope; the Chromium context keeps glewlwyd's session. */
  async function browserLogin(env: NodeJS.ProcessEnv): Promise<{ context: BrowserContext; stderr: string }> {
    const context = await browser.newContext()
    cleanups.push(() => context.close())
    const cli = startCli(loginArgs(), env, 90_000)
    const { status } = await signInWithChromium(await context.newPage(), await cli.url, glewlwyd.user)
    assert.equal(status, 200, 'the success page is served after the session is stored')
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    return { context, stderr: result.stderr }
  }

  test('browser login with the default scope (a nonce is sent: glewlwyd refuses openid without one); status; the token is accepted by its userinfo endpoint', async () => {
    const p = await profile()
    const { stderr } = await browserLogin(p.env)
    assert.match(stderr, new RegExp(`Logged in to ${glewlwyd.issuer} as ${glewlwyd.user.name} <${glewlwyd.user.email}>`))
    const session = await p.session()
    assert.ok(session.idToken && session.refreshToken, 'ID and refresh tokens stored')

    const status = await runCli(['status', '--json'], p.env)
    assert.equal(status.code, 0, status.stderr)
    const summary = JSON.parse(status.stdout)
    assert.equal(summary.issuer, glewlwyd.issuer)
    assert.equal(summary.email, glewlwyd.user.email)
    assert.equal(summary.has_refresh_token, true)
    assert.equal(summary.claims.nonce === undefined, false, 'the ID token carries the nonce that was checked')

    const token = await runCli(['token'], p.env)
    assert.equal(token.code, 0, token.stderr)
    const metadata = await (await fetch(`${glewlwyd.issuer}/.well-known/openid-configuration`)).json() as { userinfo_endpoint: string }
    const userinfo = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${token.stdout.trim()}` } })
    assert.equal(userinfo.status, 200)
    const claims = await userinfo.json() as { sub: string; email: string }
    assert.equal(claims.sub, summary.subject)
    assert.equal(claims.email, glewlwyd.user.email)
  })

  test('refresh with one-use refresh tokens rotates them; a replayed refresh token → exit 4 and status says the session expired', async () => {
    const p = await profile()
    await browserLogin(p.env)
    const first = await p.session()
    const refreshed = await runCli(['token', '--force-refresh'], p.env)
    assert.equal(refreshed.code, 0, refreshed.stderr)
    const second = await p.session()
    assert.notEqual(second.refreshToken, first.refreshToken, 'rotated')
    assert.notEqual(refreshed.stdout.trim(), first.accessToken)
    const again = await runCli(['token', '--force-refresh'], p.env)
    assert.equal(again.code, 0, again.stderr)
    assert.notEqual((await p.session()).refreshToken, second.refreshToken)

    // A copy of the session from before the rotation (a restored backup, a stolen file): its refresh token was used.
    await writeFile(p.sessionFile, JSON.stringify(first), { mode: 0o600 })
    const replayed = await runCli(['token', '--force-refresh'], p.env)
    assert.equal(replayed.code, 4, replayed.stderr)
    assert.match(lastLine(replayed.stderr), /session expired: run cli-login login/)
    assert.equal(replayed.stdout, '')
    const status = await runCli(['status'], p.env)
    assert.equal(status.code, 4)
  })

  test('device flow: verification URI and code on stderr, approved in Chromium', async () => {
    const p = await profile()
    const cli = startCli(['login', '--device', '--issuer', glewlwyd.issuer, '--client-id', glewlwyd.clientId, '--no-browser', '--timeout', '60'], p.env, 90_000)
    const url = await cli.url
    const userCode = /the code (\S+?):?$/m.exec(cli.stderrLines.join('\n'))?.[1]
    assert.ok(userCode, cli.stderrLines.join('\n'))
    const context = await browser.newContext()
    cleanups.push(() => context.close())
    await approveDeviceWithChromium(await context.newPage(), url, userCode, glewlwyd.user)
    const result = await cli.result
    assert.equal(result.code, 0, result.stderr)
    assert.ok((await p.session()).refreshToken)
    assert.equal((await runCli(['token'], p.env)).code, 0)
  })

  test('logout: glewlwyd refuses revocation to a public client (401): the session is deleted, exit 0, and it says the refresh token stays valid and why', async () => {
    const p = await profile()
    await browserLogin(p.env)
    const { refreshToken } = await p.session()
    const logout = await runCli(['logout'], p.env)
    assert.equal(logout.code, 0, logout.stderr)
    assert.equal(existsSync(p.sessionFile), false)
    assert.match(logout.stderr, /The refresh token was not revoked: the provider refused to revoke it \(HTTP 401; .*\); it stays valid at the provider until it expires\./)
    assert.doesNotMatch(logout.stderr, /try again/i)
    // What the message says is true: the refresh token still works at glewlwyd.
    const metadata = await (await fetch(`${glewlwyd.issuer}/.well-known/openid-configuration`)).json() as { token_endpoint: string }
    const refresh = await fetch(metadata.token_endpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: glewlwyd.clientId }) })
    assert.equal(refresh.status, 200)
  })

  test('logout --browser: the browser gets a one-shot loopback URL (no ID token in its argv) that leads to glewlwyd\'s end session; Logout there ends the session', async () => {
    const p = await profile()
    const { context } = await browserLogin(p.env)
    const { idToken, refreshToken } = await p.session()
    const cli = startCli(['logout', '--browser'], { ...p.env, BROWSER: p.recordingBrowser }, 90_000)
    let record: { argv: string[] } | undefined
    for (let i = 0; i < 250 && !record; i++) {
      if (existsSync(p.recordFile)) record = JSON.parse(await readFile(p.recordFile, 'utf8'))
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.ok(record, 'the browser was started')
    const given = record.argv.at(-1)!
    assert.match(given, /^http:\/\/127\.0\.0\.1:\d+\/end-session\//)
    assert.ok(!JSON.stringify(record.argv).includes(idToken))
    // Chromium plays the browser BROWSER started: the one-shot URL redirects to glewlwyd's end session.
    const page = await context.newPage()
    await page.goto(given)
    assert.ok(page.url().startsWith(new URL(glewlwyd.issuer).origin), page.url())
    const ended = await endSessionWithChromium(page, page.url())
    assert.equal(ended.ended, true, JSON.stringify(ended))
    const logout = await cli.result
    assert.equal(logout.code, 0, logout.stderr)
    assert.match(logout.stderr, /Opened the browser to end the provider's session/)
    assert.ok(!logout.stderr.includes(idToken))
    assert.equal(existsSync(p.sessionFile), false)
    const metadata = await (await fetch(`${glewlwyd.issuer}/.well-known/openid-configuration`)).json() as { token_endpoint: string }
    const refresh = await fetch(metadata.token_endpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: glewlwyd.clientId }) })
    assert.equal(refresh.status, 400, 'ending the session disabled its refresh token')
  })

  describe('with the browser on another machine (its network reaches glewlwyd, not this machine\'s callback port)', () => {
    let elsewhere: ElsewhereNetwork
    let remoteBrowser: Browser
    before(async () => {
      elsewhere = await startElsewhereNetwork([Number(new URL(glewlwyd.issuer).port)])
      remoteBrowser = await launchChromiumElsewhere(elsewhere)
    })
    after(async () => {
      await remoteBrowser?.close()
      await elsewhere?.close()
    })

    async function signInElsewhere(url: string): Promise<string> {
      const context = await remoteBrowser.newContext()
      cleanups.push(() => context.close())
      const { callbackUrl, status } = await signInWithChromium(await context.newPage(), url, glewlwyd.user)
      assert.equal(status, undefined, 'the callback could not be reached from there')
      return callbackUrl
    }

    test('paste-back in a real terminal: the address the browser ended on completes the login (state, iss, PKCE, nonce checked as for the redirect)', { skip: isTmuxInstalled() ? false : 'tmux is not installed (scripts/ci/install-tmux.sh)' }, async () => {
      const p = await profile()
      const terminal = startTerminal([process.execPath, BIN, ...loginArgs()], p.env)
      cleanups.push(async () => terminal.close())
      const url = /^(http:\/\/\S+\/auth\?\S+)$/m.exec(await terminal.waitFor(/paste here the address it ended on/))?.[1]
      assert.ok(url, terminal.screen())
      terminal.typeLine(await signInElsewhere(url))
      const done = await terminal.waitFor(/\[exit \d+\]/, 60_000)
      assert.match(done, /\[exit 0\]/, done)
      assert.match(done, new RegExp(`Logged in to ${glewlwyd.issuer} as ${glewlwyd.user.name}`))
      assert.ok((await p.session()).idToken)
    })

    test('two steps: login --no-wait prints the URL; login --finish in another process completes it', async () => {
      const p = await profile()
      const start = await runCli(['login', '--no-wait', '--issuer', glewlwyd.issuer, '--client-id', glewlwyd.clientId, '--port', String(firstPort)], p.env)
      assert.equal(start.code, 0, start.stderr)
      const finish = await runCli(['login', '--finish', await signInElsewhere(start.stdout.trim())], p.env)
      assert.equal(finish.code, 0, finish.stderr)
      assert.match(finish.stderr, new RegExp(`Logged in to ${glewlwyd.issuer} as ${glewlwyd.user.name}`))
      assert.equal((await runCli(['token'], p.env)).code, 0)
    })
  })
})
