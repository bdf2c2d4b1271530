/**
 * Logins with no browser on this machine (issue 18): paste-back, two steps (--no-wait / --finish),
 * --qr, and accounts (login_hint, the replaced account, profiles / use), against the test kit's
 * provider. The "browser" is the kit's HTTP double, which stops at the address it would load on the
 * loopback (authorizeOverHttp): a browser on another machine, whose address bar holds the answer.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { approveDeviceOverHttp, authorizeOverHttp, DEMO_CLIENT_ID, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { main } from '../../src/cli/main.ts'
import { defaultSystem } from '../../src/system.ts'
import { BIN, cleanEnv, lastLine, makeTempHome, runCli } from '../helpers/cli.ts'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { decodeTerminalQr, qrLines } from '../helpers/terminal-qr.ts'

const [alice, bob] = DEMO_USERS
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []
before(async () => {
  provider = await startTestProvider()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function setup() {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const port = await findFreePortRange(3)
  const home = join(temp.dir, 'cli-login')
  const env = cleanEnv(temp.dir)
  const server = ['--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3']
  const profileDir = (profile = 'default') => join(home, 'profiles', profile)
  return { env, port, home, server, profileDir, pendingFile: join(profileDir(), 'pending-login.json') }
}

/**
 * The CLI in this process with a terminal on stdin: `onLine(line, type)` sees each stderr line, and
 * may type into the terminal.
 */
async function runWithTerminal(args: string[], env: NodeJS.ProcessEnv, onLine: (line: string, type: (text: string) => void) => void) {
  const terminal = Object.assign(new PassThrough(), { isTTY: true })
  const type = (text: string) => terminal.write(`${text}\n`)
  let stdout = ''
  let stderr = ''
  const code = await main(args, defaultSystem({ env, platform: 'linux' }), {
    stdout: (text) => (stdout += text),
    stderr: (text) => {
      stderr += text
      for (const line of text.split('\n').filter(Boolean)) onLine(line, type)
    },
    terminalInput: () => terminal,
  })
  return { code, stdout, stderr }
}

const URL_LINE = /^https?:\/\/\S+$/

/** Whether anything accepts a connection on the port (the loopback server should be gone after a login). */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => socket.destroy() && resolve(true))
    socket.once('error', () => resolve(false))
  })
}

describe('paste-back', () => {
  test('the address pasted on the terminal completes the login (a bare code and another attempt are refused, one line each); nothing reached the loopback', async () => {
    const { env, server, port } = await setup()
    const redirectRequests: string[] = []
    let answered = false
    const result = await runWithTerminal(['login', ...server], env, (line, type) => {
      if (!URL_LINE.test(line) || answered) return
      answered = true
      void (async () => {
        const address = await authorizeOverHttp(line, { username: alice.username, password: alice.password })
        redirectRequests.push(address)
        const code = new URL(address).searchParams.get('code')!
        type(code) // a bare code: refused
        type(address.replace(/state=[^&]+/, 'state=another-attempt')) // another attempt's answer: refused
        type('') // an empty line: nothing
        type(`  ${address}  `)
      })()
    })
    assert.equal(result.code, 0, result.stderr)
    const lines = result.stderr.split('\n')
    assert.equal(lines.filter((l) => /paste here the address it ended on/.test(l)).length, 1, 'one prompt line')
    assert.ok(lines.includes("cli-login: that is only a code: paste the whole address from the browser's address bar (with its state); paste it again, or finish in the browser."), result.stderr)
    assert.ok(lines.includes('cli-login: that address belongs to another login attempt (its state does not match); paste it again, or finish in the browser.'), result.stderr)
    assert.match(result.stderr, /Logged in to .* as Alice Liddell <alice@example.com>/)
    assert.equal(await isListening(port), false, 'the loopback port is closed after the login')

    const status = await runMain(['status', '--json'], env)
    assert.equal(JSON.parse(status.stdout).subject, alice.sub)
    assert.equal(provider.stats.grants.authorization_code > 0, true)
  })

  test('the same checks as the redirect: an address whose iss is not the provider\'s is refused at the exchange, its code never redeemed (exit 1)', async () => {
    const { env, server } = await setup()
    const grantsBefore = provider.stats.grants.authorization_code ?? 0
    let answered = false
    const result = await runWithTerminal(['login', ...server], env, (line, type) => {
      if (!URL_LINE.test(line) || answered) return
      answered = true
      void authorizeOverHttp(line, { username: alice.username, password: alice.password }).then((address) => {
        const forged = new URL(address)
        forged.searchParams.set('iss', 'https://evil.example/')
        type(forged.href)
      })
    })
    assert.equal(result.code, 1)
    assert.match(lastLine(result.stderr), /not valid: .*iss/i)
    assert.equal(provider.stats.grants.authorization_code ?? 0, grantsBefore, 'no code was redeemed')
  })

  test('the redirect still works while the terminal is open; a paste after it changes nothing', async () => {
    const { env, server } = await setup()
    let answered = false
    const result = await runWithTerminal(['login', ...server], env, (line, type) => {
      if (!URL_LINE.test(line) || answered) return
      answered = true
      void authorizeOverHttp(line, { username: alice.username, password: alice.password }).then(async (address) => {
        await fetch(address)
        type(address)
      })
    })
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /that address/)
  })

  test('without a terminal on stdin there is no prompt (a script is not a person pasting)', async () => {
    const { env, server } = await setup()
    const result = await runMain(['login', ...server], env, { username: alice.username, password: alice.password })
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /paste/)
  })
})

describe('two steps: login --no-wait, then login --finish in another process', () => {
  test('--no-wait --json prints {url, login_id, expires_at} and exits; --finish in a new process logs in; the pending login is a 0600 secret, used once', async () => {
    const { env, server, port, pendingFile } = await setup()
    const start = await runCli(['login', '--no-wait', '--json', ...server, '--timeout', '120'], env)
    assert.equal(start.code, 0, start.stderr)
    const started = JSON.parse(start.stdout) as { url: string; login_id: string; expires_at: number }
    assert.deepEqual(Object.keys(started), ['url', 'login_id', 'expires_at'])
    const url = new URL(started.url)
    assert.equal(url.searchParams.get('redirect_uri'), `http://127.0.0.1:${port}/callback`, 'the --port given, not probed')
    assert.ok(Math.abs(started.expires_at - (Math.floor(Date.now() / 1000) + 120)) <= 2, 'expires after --timeout')
    assert.equal(await isListening(port), false, 'nothing listens: the answer comes back as an address')

    const pending = await readFile(pendingFile, 'utf8')
    assert.equal((await stat(pendingFile)).mode & 0o777, 0o600)
    assert.ok(pending.includes(url.searchParams.get('state')!), 'the file keeps the attempt (file storage)')

    const address = await authorizeOverHttp(started.url, { username: alice.username, password: alice.password })
    const finish = await runCli(['login', '--finish', address], env)
    assert.equal(finish.code, 0, finish.stderr)
    assert.match(finish.stderr, /Logged in to .* as Alice Liddell/)
    const status = await runCli(['status', '--json'], env)
    assert.equal(JSON.parse(status.stdout).subject, alice.sub)
    const used = JSON.parse(await readFile(pendingFile, 'utf8')) as Record<string, unknown>
    assert.equal(used.attempt, undefined, 'the secrets are gone once used')
    assert.equal(used.settings, undefined)

    const again = await runCli(['login', '--finish', address], env)
    assert.equal(again.code, 1)
    assert.equal(again.stderr.trimEnd().split('\n').length, 1)
    assert.match(again.stderr, new RegExp(`^cli-login: the pending login ${started.login_id} was used already .*: start a new one with cli-login login --no-wait\\n$`))

    const logout = await runCli(['logout'], env)
    assert.equal(logout.code, 0)
    await assert.rejects(stat(pendingFile), /ENOENT/, 'logout deletes the pending login with the session')
  })

  test('no pending login, an expired one, another attempt\'s address, a bare code: one line each, exit 1', async () => {
    const { env, server, pendingFile } = await setup()
    const none = await runCli(['login', '--finish', 'http://127.0.0.1:1/callback?code=x&state=y'], env)
    assert.equal(none.code, 1)
    assert.equal(none.stderr, 'cli-login: no login is waiting to be finished: start a new one with cli-login login --no-wait\n')

    const first = JSON.parse((await runCli(['login', '--no-wait', '--json', ...server], env)).stdout) as { url: string }
    const firstAddress = await authorizeOverHttp(first.url, { username: alice.username, password: alice.password })
    // A new --no-wait replaces the pending login: the first attempt's answer is now another attempt's.
    const second = JSON.parse((await runCli(['login', '--no-wait', '--json', ...server], env)).stdout) as { url: string; login_id: string }
    const mismatch = await runCli(['login', '--finish', firstAddress], env)
    assert.equal(mismatch.code, 1)
    assert.match(mismatch.stderr, new RegExp(`^cli-login: the address is the answer to another login attempt than the pending one ${second.login_id} \\(its state does not match\\): .*\\n$`))

    const secondAddress = await authorizeOverHttp(second.url, { username: alice.username, password: alice.password })
    // --finish=<code>: a code may start with '-', which a separate argument would make a flag.
    const bare = await runCli(['login', `--finish=${new URL(secondAddress).searchParams.get('code')!}`], env)
    assert.equal(bare.code, 1)
    assert.match(bare.stderr, /^cli-login: the address is not the answer to the pending login .*: that is only a code: paste the whole address/)

    // Its time is up (the record says when: a pending login lives --timeout seconds, 300 by default).
    const record = JSON.parse(await readFile(pendingFile, 'utf8')) as Record<string, unknown>
    await writeFile(pendingFile, JSON.stringify({ ...record, expiresAt: Math.floor(Date.now() / 1000) - 1 }), { mode: 0o600 })
    const expired = await runCli(['login', '--finish', secondAddress], env)
    assert.equal(expired.code, 1)
    assert.match(expired.stderr, new RegExp(`^cli-login: the pending login ${second.login_id} expired at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: start a new one with cli-login login --no-wait\\n$`))
    assert.equal((JSON.parse(await readFile(pendingFile, 'utf8')) as Record<string, unknown>).attempt, undefined, 'an expired attempt keeps no secret')
    assert.equal((await runCli(['status'], env)).code, 4, 'none of these logged in')
  })

  test('--no-wait with --device is a usage error (exit 2); --finish reads no environment variable', async () => {
    const { env, server } = await setup()
    const device = await runMain(['login', '--no-wait', '--device', ...server], env)
    assert.equal(device.code, 2)
    assert.match(lastLine(device.stderr), /--no-wait cannot be used with --device/)
    const fromEnv = await runMain(['login', ...server, '--timeout', '0.2'], { ...env, CLI_LOGIN_FINISH: 'http://127.0.0.1:1/callback?code=x&state=y' })
    assert.equal(fromEnv.code, 1)
    assert.match(lastLine(fromEnv.stderr), /no answer from the browser after 0.2 s/, 'CLI_LOGIN_FINISH is not --finish: a plain login ran (and timed out)')
  })

  test('library: startLogin() in one instance, finishLogin() in another of the same profile', async () => {
    const { CliLogin } = await import('../../src/index.ts')
    const temp = await makeTempHome()
    cleanups.push(temp.cleanup)
    const options = { appName: 'acme', home: temp.dir, storage: 'file' as const, issuer: provider.issuer, clientId: DEMO_CLIENT_ID, port: await findFreePortRange(1) }
    const started = await new CliLogin(options).startLogin()
    assert.match(started.loginId, /^[\w-]{16}$/)
    const address = await authorizeOverHttp(started.url, { username: bob.username, password: bob.password })
    const result = await new CliLogin({ appName: 'acme', home: temp.dir, storage: 'file' }).finishLogin(address)
    assert.equal(result.subject, bob.sub)
    await assert.rejects(new CliLogin({ appName: 'acme', home: temp.dir, storage: 'file' }).finishLogin(address), { code: 'PENDING_LOGIN_INVALID', reason: 'used' })
  })
})

describe('--qr', () => {
  test('the device flow: the QR code on stderr decodes to verification_uri_complete; the URL and code follow as text', async () => {
    const { env, server } = await setup()
    let approving: Promise<unknown> | undefined
    const result = await runWithTerminal(['login', '--device', '--qr', ...server], env, (line) => {
      if (URL_LINE.test(line) && !approving) approving = approveDeviceOverHttp(line, { username: alice.username, password: alice.password })
    })
    await approving
    assert.equal(result.code, 0, result.stderr)
    const qr = qrLines(result.stderr)
    assert.ok(qr.length > 10, result.stderr)
    const complete = result.stderr.split('\n').find((l) => URL_LINE.test(l))!
    assert.match(complete, /user_code=/)
    assert.equal(decodeTerminalQr(qr), complete)
    const after = result.stderr.slice(result.stderr.lastIndexOf(qr.at(-1)!))
    assert.match(after, /check that it shows the code [A-Z-]+/)
    assert.ok(after.includes(complete), 'the URL as text below the code')
  })

  test('an authorization URL longer than 256 characters: text only, and one line why', async () => {
    const { env, server } = await setup()
    const result = await runMain(['login', '--qr', ...server], env, { username: alice.username, password: alice.password })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(qrLines(result.stderr), [])
    assert.match(result.stderr, /^No QR code: the URL is \d{3,} characters, more than the 256 a terminal QR code can hold legibly/m)
  })

  test('with --no-wait, a URL of at most 256 characters (explicit endpoints, no scope, a short client id) is shown as a QR code on stderr; stdout keeps only the URL', async () => {
    const { env, port } = await setup()
    // Nothing is sent to the server before the browser opens the URL: the client id need not exist for this.
    const args = ['login', '--no-wait', '--qr', '--authorization-endpoint', `${provider.issuer}authorize`, '--token-endpoint', `${provider.issuer}token`, '--client-id', 'c', '--port', String(port)]
    const result = await runMain(args, env)
    assert.equal(result.code, 0, result.stderr)
    const url = result.stdout.trim()
    assert.ok(url.length <= 256, `${url.length}: ${url}`)
    assert.equal(decodeTerminalQr(qrLines(result.stderr)), url)
  })
})

test('the QR encoder is loaded only with --qr', async () => {
  const { env, port, home } = await setup()
  const hook = fileURLToPath(new URL('../helpers/record-loads.cjs', import.meta.url))
  const loadsOf = async (extra: string[]) => {
    const record = join(home, `loads-${extra.length}.json`)
    const args = ['--require', hook, BIN, 'login', '--no-wait', ...extra, '--authorization-endpoint', `${provider.issuer}authorize`, '--token-endpoint', `${provider.issuer}token`, '--client-id', 'c', '--port', String(port)]
    const run = spawnSync(process.execPath, args, { env: { ...env, RECORD_LOADS_FILE: record }, encoding: 'utf8' })
    assert.equal(run.status, 0, run.stderr)
    return (JSON.parse(await readFile(record, 'utf8')) as { requests: string[] }).requests
  }
  assert.ok((await loadsOf(['--qr'])).includes('uqr'), 'the control: --qr loads it')
  assert.ok(!(await loadsOf([])).includes('uqr'))
})

describe('accounts', () => {
  async function loginAs(env: NodeJS.ProcessEnv, server: string[], user: typeof alice, extra: string[] = []) {
    const seen: string[] = []
    const result = await runMain(['login', ...server, ...extra], env, { username: user.username, password: user.password })
    for (const line of result.stderr.split('\n')) if (URL_LINE.test(line)) seen.push(line)
    return { ...result, url: new URL(seen[0]) }
  }

  test('a re-login hints at the profile\'s email (not with --prompt login or select_account; --login-hint wins); another account is said on one line', async () => {
    const { env, server } = await setup()
    const first = await loginAs(env, server, alice)
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.url.searchParams.get('login_hint'), null, 'nothing to hint at on an empty profile')

    const again = await loginAs(env, server, alice)
    assert.equal(again.url.searchParams.get('login_hint'), alice.email)
    assert.doesNotMatch(again.stderr, /profile default was/, 'the same account: nothing to say')

    for (const prompt of ['login', 'select_account']) {
      const picking = await loginAs(env, server, alice, ['--prompt', prompt])
      assert.equal(picking.url.searchParams.get('login_hint'), null, prompt)
    }
    const hinted = await loginAs(env, server, alice, ['--login-hint', 'someone@example.com'])
    assert.equal(hinted.url.searchParams.get('login_hint'), 'someone@example.com')

    const other = await loginAs(env, server, bob, ['--prompt', 'login'])
    assert.equal(other.code, 0, other.stderr)
    assert.equal(other.stderr.split('\n').filter((l) => /was .*, now/.test(l)).length, 1)
    assert.match(other.stderr, /^profile default was alice@example\.com, now bob@example\.com$/m)
    assert.equal(JSON.parse((await runMain(['status', '--json'], env)).stdout).subject, bob.sub, 'the new account is stored')
  })

  test('profiles lists every profile, the default marked; use changes the default for every command (token too); --profile and CLI_LOGIN_PROFILE beat it; a profile without a session: exit 1', async () => {
    const { env, server, home } = await setup()
    assert.equal((await loginAs(env, server, alice)).code, 0)
    assert.equal((await loginAs(env, server, bob, ['--profile', 'work'])).code, 0)

    const listed = await runCli(['profiles', '--json'], env)
    assert.equal(listed.code, 0, listed.stderr)
    const profiles = JSON.parse(listed.stdout) as Array<Record<string, unknown>>
    const status = JSON.parse((await runCli(['status', '--json', '--profile', 'work'], env)).stdout) as Record<string, unknown>
    assert.deepEqual(profiles.map((p) => [p.profile, p.email, p.default]), [['default', alice.email, true], ['work', bob.email, false]])
    assert.deepEqual(Object.keys(profiles[1]), [...Object.keys(status), 'default'], 'each is a status --json object, with "default"')
    assert.deepEqual({ ...profiles[1], default: undefined }, { ...status, default: undefined })

    const table = await runCli(['profiles'], env)
    assert.match(table.stdout, /^\* +default +\S+ +alice@example\.com +expires \S+ +file$/m)
    assert.match(table.stdout, /^ +work +\S+ +bob@example\.com +expires \S+ +file$/m)

    const use = await runCli(['use', 'work'], env)
    assert.equal(use.code, 0, use.stderr)
    assert.deepEqual(JSON.parse(await readFile(join(home, 'config.json'), 'utf8')), { defaultProfile: 'work' })
    assert.equal(JSON.parse((await runCli(['status', '--json'], env)).stdout).email, bob.email)
    const workToken = (await runCli(['token'], env)).stdout
    assert.equal(workToken, (await runCli(['token', '--profile', 'work'], env)).stdout, 'the token fast path uses the default too')
    assert.notEqual(workToken, (await runCli(['token', '--profile', 'default'], env)).stdout)
    assert.equal(JSON.parse((await runCli(['status', '--json', '--profile', 'default'], env)).stdout).email, alice.email, '--profile beats it')
    assert.equal(JSON.parse((await runCli(['status', '--json'], { ...env, CLI_LOGIN_PROFILE: 'default' })).stdout).email, alice.email, 'CLI_LOGIN_PROFILE beats it')
    assert.deepEqual((JSON.parse((await runCli(['profiles', '--json'], env)).stdout) as Array<{ default: boolean }>).map((p) => p.default), [false, true])

    const missing = await runCli(['use', 'nobody'], env)
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr, 'cli-login: profile "nobody" has no session: log in to it with cli-login login --profile nobody first\n')
    assert.deepEqual(JSON.parse(await readFile(join(home, 'config.json'), 'utf8')), { defaultProfile: 'work' }, 'unchanged')

    await writeFile(join(home, 'config.json'), '{"defaultProfile": 42}', { mode: 0o600 })
    const broken = await runCli(['token'], env)
    assert.equal(broken.code, 1)
    assert.match(broken.stderr, /config\.json is not a valid configuration \("defaultProfile" is not a profile name\): delete it, or set the default profile again\n$/)
  })
})
