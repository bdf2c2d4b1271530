/**
 * End to end, no browser on this machine (issue 18): the built `cli-login` in a real terminal (tmux),
 * and real headless Chromium standing for a browser on another machine: its requests go through
 * that machine's "network" (a proxy, loopback included, that reaches the provider and nothing else
 * here), so the redirect to the CLI's port fails there, and the user copies the address the browser
 * ended on into the terminal.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { approveDeviceInChromium, launchChromiumElsewhere, loginInChromiumElsewhere } from '../helpers/chromium.ts'
import { startElsewhereNetwork, type ElsewhereNetwork } from '../helpers/elsewhere-network.ts'
import { BIN, cleanEnv, makeTempHome, runCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { decodeTerminalQr, qrLines } from '../helpers/terminal-qr.ts'
import { isTmuxInstalled, startTerminal, type Terminal } from '../helpers/tmux.ts'

const skip = isTmuxInstalled() ? false : 'tmux is not installed (scripts/ci/install-tmux.sh)'
const [alice] = DEMO_USERS
let provider: TestProvider
let browser: Browser
let elsewhere: ElsewhereNetwork
const cleanups: Array<() => Promise<void> | void> = []

before(async () => {
  if (skip) return
  provider = await startTestProvider()
  elsewhere = await startElsewhereNetwork([Number(new URL(provider.issuer).port)])
  browser = await launchChromiumElsewhere(elsewhere)
})
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await browser?.close()
  await elsewhere?.close()
  await provider?.close()
})

async function setup() {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const port = await findFreePortRange(3)
  // SSH_CONNECTION: as over SSH, no browser is started here.
  const env = cleanEnv(home.dir, { SSH_CONNECTION: '192.0.2.1 50000 192.0.2.2 22' })
  return { env, port, server: ['--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3'] }
}

function inTerminal(argv: string[], env: NodeJS.ProcessEnv): Terminal {
  const terminal = startTerminal([process.execPath, BIN, ...argv], env)
  cleanups.push(() => terminal.close())
  return terminal
}

const AUTHORIZATION_URL = /^(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)$/m

describe('paste-back in a real terminal, the browser on another machine', { skip }, () => {
  test('the address copied from the browser, pasted at the prompt, completes the login; a bare code is refused first', async () => {
    const { env, port, server } = await setup()
    const terminal = inTerminal(['login', ...server], env)
    const url = AUTHORIZATION_URL.exec(await terminal.waitFor(AUTHORIZATION_URL))![1]
    const screen = await terminal.waitFor(/paste here the address it ended on/)
    assert.match(screen, /This is an SSH session, so no browser is opened/)
    assert.equal(screen.match(/paste here the address it ended on/g)?.length, 1, 'one prompt line')

    const address = await loginInChromiumElsewhere(browser, url, { username: alice.username, password: alice.password }, `http://127.0.0.1:${port}`)
    assert.match(address, new RegExp(`^http://127\\.0\\.0\\.1:${port}/callback\\?code=`), 'the browser could not reach the CLI: it ended on the redirect')
    assert.deepEqual(elsewhere.refused.filter((u) => u.startsWith('http://127.0.0.1:')), [address], 'the one request to this machine that could not reach it')

    terminal.typeLine(new URL(address).searchParams.get('code')!)
    await terminal.waitFor(/that is only a code: paste the whole address/)
    terminal.typeLine(address)
    const done = await terminal.waitFor(/\[exit \d+\]/)
    assert.match(done, /\[exit 0\]/, done)
    assert.match(done, /Logged in to .* as Alice Liddell <alice@example\.com> \(profile "default"\)/)

    const status = await runCli(['status', '--json'], env)
    assert.equal(JSON.parse(status.stdout).subject, alice.sub)
    assert.equal((await runCli(['token'], env)).code, 0)
  })
})

describe('--qr in a real terminal', { skip }, () => {
  test('the device flow\'s QR code, read off the screen, decodes to verification_uri_complete, which Chromium approves', async () => {
    const { env, server } = await setup()
    const terminal = inTerminal(['login', '--device', '--qr', ...server], env)
    const screen = await terminal.waitFor(/Waiting for the login to be approved/)
    const complete = /^(http:\/\/\S+user_code=\S+)$/m.exec(screen)?.[1]
    assert.ok(complete, screen)
    assert.equal(decodeTerminalQr(qrLines(screen)), complete)
    await approveDeviceInChromium(browser, complete, { username: alice.username, password: alice.password })
    assert.match(await terminal.waitFor(/\[exit \d+\]/), /\[exit 0\]/)
  })
})
