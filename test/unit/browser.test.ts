import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { createBrowserOpener, splitCommandLine } from '../../src/browser/open-browser.ts'
import { headlessReason, type HeadlessReason } from '../../src/browser/headless.ts'

const URL_TO_OPEN = 'https://idp.example/authorize?client_id=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2Fcallback&state=x y'
const POSIX = process.platform !== 'win32'

// ---------------------------------------------------------------- splitCommandLine

const splitTable: Array<[input: string, words: string[]]> = [
  ['firefox', ['firefox']],
  ['  firefox   --new-window  ', ['firefox', '--new-window']],
  ['a\tb\nc', ['a', 'b', 'c']],
  ['', []],
  ['   ', []],
  [`'/Applications/Google Chrome.app/x' --incognito`, ['/Applications/Google Chrome.app/x', '--incognito']],
  [`"/opt/my browser/bin" -a`, ['/opt/my browser/bin', '-a']],
  [`'it''s'`, ['its']],
  [`'a "b" c'`, ['a "b" c']],
  [`"a 'b' c"`, [`a 'b' c`]],
  [`'\\n stays'`, ['\\n stays']],
  [`"say \\"hi\\" \\\\ \\$HOME \\\`x\\\`"`, ['say "hi" \\ $HOME `x`']],
  [`"C:\\Program Files\\x"`, ['C:\\Program Files\\x']], // \P and \x are not escapes inside "…"
  [`my\\ browser --flag`, ['my browser', '--flag']],
  [`a\\'b`, [`a'b`]],
  [`a\\"b`, ['a"b']],
  [`a\\\\b`, ['a\\b']],
  [`pre'quoted mid'"dq end"post`, ['prequoted middq endpost']],
  [`'' ""`, ['', '']],
  [`a '' b`, ['a', '', 'b']],
  [`first \\\nsecond`, ['first', 'second']],
  [`con\\\ntinued`, ['continued']],
  [`trailing\\`, ['trailing\\']],
  [`$HOME ~ * ; | & $(x)`, ['$HOME', '~', '*', ';', '|', '&', '$(x)']], // no expansion, no operators
]

for (const [input, words] of splitTable) {
  test(`splitCommandLine(${JSON.stringify(input)})`, () => {
    assert.deepEqual(splitCommandLine(input), words)
  })
}

for (const input of [`'unterminated`, `"unterminated`, `ok "still \\" open`, `a 'b" c`]) {
  test(`splitCommandLine throws on an unterminated quote: ${JSON.stringify(input)}`, () => {
    assert.throws(() => splitCommandLine(input), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'USAGE')
      assert.match(error.message, /unterminated (single|double) quote/)
      return true
    })
  })
}

test('splitCommandLine without backslash escapes keeps Windows paths', () => {
  assert.deepEqual(splitCommandLine(`C:\\tools\\browser.exe "C:\\Program Files\\x\\" --y`, { backslashEscapes: false }), [
    'C:\\tools\\browser.exe',
    'C:\\Program Files\\x\\',
    '--y',
  ])
})

// ---------------------------------------------------------------- headlessReason

const headlessTable: Array<[name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, reason: HeadlessReason | undefined]> = [
  ['linux desktop (X11)', { DISPLAY: ':0' }, 'linux', undefined],
  ['linux desktop (Wayland)', { WAYLAND_DISPLAY: 'wayland-0' }, 'linux', undefined],
  ['linux without display', {}, 'linux', 'no-display'],
  ['linux with empty DISPLAY', { DISPLAY: '' }, 'linux', 'no-display'],
  ['WSL without display (WSL_DISTRO_NAME)', { WSL_DISTRO_NAME: 'Ubuntu' }, 'linux', undefined],
  ['WSL without display (WSL_INTEROP)', { WSL_INTEROP: '/run/WSL/1_interop' }, 'linux', undefined],
  ['SSH_CONNECTION on linux with display', { SSH_CONNECTION: '10.0.0.1 5555 10.0.0.2 22', DISPLAY: 'localhost:10.0' }, 'linux', 'ssh'],
  ['SSH_TTY on linux', { SSH_TTY: '/dev/pts/0' }, 'linux', 'ssh'],
  ['SSH into WSL', { SSH_CONNECTION: 'a b c d', WSL_DISTRO_NAME: 'Ubuntu' }, 'linux', 'ssh'],
  ['empty SSH_CONNECTION is unset', { SSH_CONNECTION: '', DISPLAY: ':0' }, 'linux', undefined],
  ['darwin without DISPLAY', {}, 'darwin', undefined],
  ['darwin over SSH', { SSH_CONNECTION: 'a b c d' }, 'darwin', 'ssh'],
  ['win32 without DISPLAY', {}, 'win32', undefined],
  ['win32 over SSH', { SSH_TTY: 'x' }, 'win32', 'ssh'],
]

for (const [name, env, platform, reason] of headlessTable) {
  test(`headlessReason: ${name} → ${String(reason)}`, () => {
    assert.equal(headlessReason(env, platform), reason)
  })
}

// ---------------------------------------------------------------- createBrowserOpener

interface FakeBrowser {
  dir: string
  script: string
  argvFile: string
  doneFile: string
}

/** A BROWSER stand-in: prints noise on stdout and stderr, records its argv, then lingers a second. */
async function fakeBrowser(t: { after(fn: () => Promise<void>): void }): Promise<FakeBrowser> {
  const dir = await mkdtemp(join(tmpdir(), 'cli login browser '))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const script = join(dir, 'fake browser.mjs')
  const argvFile = join(dir, 'argv.json')
  const doneFile = join(dir, 'done')
  await writeFile(
    script,
    `#!${process.execPath}
import { writeFileSync } from 'node:fs'
process.stdout.write('BROWSER NOISE ON STDOUT\\n')
process.stderr.write('BROWSER NOISE ON STDERR\\n')
writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify(process.argv.slice(2)))
setTimeout(() => writeFileSync(${JSON.stringify(doneFile)}, 'done'), 1000)
`,
  )
  await chmod(script, 0o755)
  return { dir, script, argvFile, doneFile }
}

async function waitForFile(path: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const text = await readFile(path, 'utf8')
      if (text !== '') return text
    } catch {
      // not yet
    }
    await sleep(20)
  }
  throw new Error(`${path} was not written within ${timeoutMs} ms`)
}

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

function neverOpen(): { calls: string[]; opener: (url: string) => Promise<ChildProcess> } {
  const calls: string[] = []
  return {
    calls,
    opener: async (url) => {
      calls.push(url)
      throw new Error('the platform opener must not be used here')
    },
  }
}

test('BROWSER: words plus the URL as the last argument, opened:true', { skip: !POSIX }, async (t) => {
  const fake = await fakeBrowser(t)
  const spy = neverOpen()
  const open = createBrowserOpener({
    env: { ...process.env, BROWSER: `${quote(fake.script)} --new-window "two words"` },
    platform: 'linux',
    platformOpener: spy.opener,
  })
  const result = await open(URL_TO_OPEN)
  assert.equal(result.opened, true)
  assert.equal(result.opened && result.command, `${quote(fake.script)} --new-window "two words"`)
  assert.deepEqual(JSON.parse(await waitForFile(fake.argvFile)), ['--new-window', 'two words', URL_TO_OPEN])
  assert.deepEqual(spy.calls, [])
})

test('BROWSER wins over SSH and over a missing display', { skip: !POSIX }, async (t) => {
  const fake = await fakeBrowser(t)
  const open = createBrowserOpener({
    env: { PATH: process.env.PATH, SSH_CONNECTION: '10.0.0.1 5555 10.0.0.2 22', BROWSER: quote(fake.script) },
    platform: 'linux',
    platformOpener: neverOpen().opener,
  })
  const result = await open(URL_TO_OPEN)
  assert.equal(result.opened, true)
  assert.deepEqual(JSON.parse(await waitForFile(fake.argvFile)), [URL_TO_OPEN])
})

test('BROWSER=/nonexistent → opened:false, reason failed', async () => {
  const open = createBrowserOpener({ env: { BROWSER: '/nonexistent/browser' }, platform: process.platform })
  const result = await open(URL_TO_OPEN)
  assert.equal(result.opened, false)
  assert.equal(!result.opened && result.reason, 'failed')
  assert.match((!result.opened && result.detail) || '', /ENOENT/)
})

test('BROWSER with an unterminated quote → failed, nothing spawned', async () => {
  const spy = neverOpen()
  const result = await createBrowserOpener({ env: { BROWSER: `"firefox` }, platform: 'linux', platformOpener: spy.opener })(URL_TO_OPEN)
  assert.equal(!result.opened && result.reason, 'failed')
  assert.match((!result.opened && result.detail) || '', /unterminated double quote/)
  assert.deepEqual(spy.calls, [])
})

test('a blank BROWSER counts as unset', async () => {
  const spy = neverOpen()
  const result = await createBrowserOpener({ env: { BROWSER: '   ' }, platform: 'linux', platformOpener: spy.opener })(URL_TO_OPEN)
  assert.deepEqual(result, { opened: false, reason: 'no-display' })
  assert.deepEqual(spy.calls, [])
})

test('SSH_CONNECTION without BROWSER → reason ssh, nothing spawned', async () => {
  const spy = neverOpen()
  const open = createBrowserOpener({ env: { SSH_CONNECTION: '10.0.0.1 5555 10.0.0.2 22', DISPLAY: ':0' }, platform: 'linux', platformOpener: spy.opener })
  assert.deepEqual(await open(URL_TO_OPEN), { opened: false, reason: 'ssh' })
  assert.deepEqual(spy.calls, [])
})

test('Linux without a display → reason no-display, nothing spawned', async () => {
  const spy = neverOpen()
  const open = createBrowserOpener({ env: {}, platform: 'linux', platformOpener: spy.opener })
  assert.deepEqual(await open(URL_TO_OPEN), { opened: false, reason: 'no-display' })
  assert.deepEqual(spy.calls, [])
})

test('disabled (--no-browser) → reason disabled, even with BROWSER set', async (t) => {
  const fake = await fakeBrowser(t)
  const spy = neverOpen()
  const open = createBrowserOpener({ env: { BROWSER: quote(fake.script) }, platform: 'linux', disabled: true, platformOpener: spy.opener })
  assert.deepEqual(await open(URL_TO_OPEN), { opened: false, reason: 'disabled' })
  await sleep(200)
  assert.equal(existsSync(fake.argvFile), false)
  assert.deepEqual(spy.calls, [])
})

test('only http(s) URLs are opened', async () => {
  const spy = neverOpen()
  const open = createBrowserOpener({ env: { DISPLAY: ':0' }, platform: 'linux', platformOpener: spy.opener })
  for (const url of ['--help', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url']) {
    const result = await open(url)
    assert.equal(!result.opened && result.reason, 'failed', url)
  }
  assert.deepEqual(spy.calls, [])
})

test('platform opener: used when there is a display and no BROWSER; its output is drained, never ours', async () => {
  const calls: string[] = []
  const open = createBrowserOpener({
    env: { DISPLAY: ':0' },
    platform: 'linux',
    platformOpener: async (url) => {
      calls.push(url)
      // Like `open` on macOS: stdio piped.
      const child = spawn(process.execPath, ['-e', 'process.stdout.write("x".repeat(200000)); process.stderr.write("err")'])
      await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject))
      return child
    },
  })
  const result = await open(URL_TO_OPEN)
  assert.deepEqual(result, { opened: true, command: process.execPath })
  assert.deepEqual(calls, [URL_TO_OPEN])
})

test('platform opener failing → failed with detail', async () => {
  const open = createBrowserOpener({
    env: { WAYLAND_DISPLAY: 'wayland-0' },
    platform: 'linux',
    platformOpener: async () => {
      throw new Error('spawn xdg-open ENOENT')
    },
  })
  assert.deepEqual(await open(URL_TO_OPEN), { opened: false, reason: 'failed', detail: 'spawn xdg-open ENOENT' })
})

test('what the BROWSER command prints never reaches our stdout, and it is not waited for', { skip: !POSIX }, async (t) => {
  const fake = await fakeBrowser(t)
  const opener = fileURLToPath(new URL('../../src/browser/open-browser.ts', import.meta.url))
  const code = `
    import(${JSON.stringify(opener)}).then(async ({ createBrowserOpener }) => {
      const result = await createBrowserOpener({ env: process.env, platform: process.platform })(${JSON.stringify(URL_TO_OPEN)})
      process.stderr.write('RESULT ' + JSON.stringify(result) + '\\n')
      const { existsSync } = await import('node:fs')
      while (!existsSync(${JSON.stringify(fake.argvFile)})) await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 100)) // the browser has printed by now
    })
  `
  const started = Date.now()
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '-e', code],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), env: { ...process.env, BROWSER: quote(fake.script) }, timeout: 20000 },
      (error, stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr })),
    )
  })
  assert.equal(stdout, '', 'nothing on stdout')
  assert.ok(!stderr.includes('BROWSER NOISE'), 'the browser output reaches neither stream')
  assert.match(stderr, /RESULT \{"opened":true/)
  assert.deepEqual(JSON.parse(await readFile(fake.argvFile, 'utf8')), [URL_TO_OPEN])
  // The child process exited while the detached browser was still running (it lingers 1 s).
  assert.equal(existsSync(fake.doneFile), false, `the browser was waited for (${Date.now() - started} ms)`)
  await waitForFile(fake.doneFile)
})
