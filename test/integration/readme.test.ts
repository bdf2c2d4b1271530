/**
 * Every code example of the README's library, CLI token, Kubernetes, completion and no-browser sections is run
 * here, or is cut verbatim from an example that a test runs.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PassThrough } from 'node:stream'
import { authorizeOverHttp, DEMO_USERS, startCiTokenService, startProtectedResource, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { main } from '../../src/cli/main.ts'
import { defaultSystem } from '../../src/system.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { COMMANDS } from '../../src/cli/args.ts'
import { ErrorCode } from '../../src/errors.ts'
import { BIN, cleanEnv, makeTempHome, type CliResult } from '../helpers/cli.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const README = await readFile(join(ROOT, 'README.md'), 'utf8')
const BROWSER_DOUBLE = fileURLToPath(new URL('../helpers/browser-double-command.mjs', import.meta.url))
const TSX = import.meta.resolve('tsx')
/** Examples whose code the README may show, each run by a test (test/integration/example-*.test.ts, test/e2e/embedding.test.ts). */
const EXAMPLES = ['examples/acme-ts/acme.ts', 'examples/mytool/mytool.js', 'examples/testing/acme-login.test.mjs', 'examples/mcp-client/mcp-client.ts']

interface Block { lang: string; code: string; offset: number }

function codeBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)].map((m) => ({
    lang: m[2],
    code: m[3].split('\n').map((line) => line.slice(m[1].length)).join('\n'),
    offset: m.index,
  }))
}

function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`)
  assert.ok(start >= 0, `README has ${heading}`)
  const level = heading.split(' ')[0]
  const next = README.slice(start + heading.length + 2).search(new RegExp(`^#{1,${level.length}} `, 'm'))
  return README.slice(start, next < 0 ? undefined : start + heading.length + 2 + next)
}

const QUICK_START_MARKER = '<!-- quick start: run by test/integration/readme.test.ts -->\n'
const quickStart = (() => {
  const at = README.indexOf(QUICK_START_MARKER)
  assert.ok(at >= 0, 'README marks its quick start')
  const block = codeBlocks(README.slice(at + QUICK_START_MARKER.length))[0]
  assert.equal(block.offset, 0, 'the quick start block follows the marker')
  return block.code
})()

const [alice] = DEMO_USERS
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider({ clients: [{ clientId: 'acme-cli' }], audiences: ['https://api.acme.example/'] })
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function tempDir(): Promise<string> {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  return home.dir
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliResult> {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer)
    resolve({ code, signal, stdout, stderr })
  }))
}

/** Replaces `from` (which must occur exactly once) by `to`: the test points the example at the test kit. */
function pointAt(code: string, from: string, to: string): string {
  assert.equal(code.split(from).length, 2, `the example has ${from} once`)
  return code.replace(from, to)
}

test('the quick start runs as written: acme login, then a call to the API, then "run acme login" without a session', async () => {
  const dir = await tempDir()
  // A project that installed clilogin: node_modules/clilogin is this package.
  await mkdir(join(dir, 'node_modules'))
  await symlink(ROOT, join(dir, 'node_modules', 'clilogin'), 'dir')
  let code = pointAt(quickStart, "'https://acme.eu.auth0.com/'", JSON.stringify(provider.issuer))
  code = pointAt(code, "'https://api.acme.example/v1/me'", JSON.stringify(`${provider.issuer}api/me`))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'acme', type: 'module' }))
  await writeFile(join(dir, 'acme.ts'), code)
  const env = cleanEnv(dir, { CLI_LOGIN_HOME: undefined, XDG_CONFIG_HOME: join(dir, 'xdg'), BROWSER: `${process.execPath} ${BROWSER_DOUBLE}` })
  const node = (args: string[], withEnv = env) => run(process.execPath, ['--import', TSX, 'acme.ts', ...args], withEnv, dir)

  const login = await node(['login'])
  assert.equal(login.code, 0, login.stderr)
  assert.deepEqual(JSON.parse(login.stdout), { sub: alice.sub, name: alice.name, email: alice.email })
  const session = JSON.parse(await readFile(join(dir, 'xdg', 'acme', 'profiles', 'default', 'session.json'), 'utf8'))
  assert.equal(session.clientId, 'acme-cli')

  const again = await node([], { ...env, BROWSER: 'false' })
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(JSON.parse(again.stdout), { sub: alice.sub, name: alice.name, email: alice.email })

  const elsewhere = await node([], { ...env, XDG_CONFIG_HOME: join(dir, 'other') })
  assert.equal(elsewhere.code, 4)
  assert.equal(elsewhere.stderr, 'not logged in: run acme login\n')
})

test('every other TypeScript and JavaScript example is cut verbatim from an example the tests run', async () => {
  const examples = await Promise.all(EXAMPLES.map((file) => readFile(join(ROOT, file), 'utf8')))
  const blocks = codeBlocks(README).filter((block) => ['ts', 'js', 'mjs'].includes(block.lang) && block.code !== quickStart)
  assert.ok(blocks.length >= 4, `${blocks.length} blocks`)
  for (const block of blocks) {
    assert.ok(examples.some((text) => text.includes(block.code)), `README block at ${block.offset} is not in ${EXAMPLES.join(', ')}:\n${block.code.slice(0, 200)}`)
  }
})

/** A directory with a `cli-login` command in it, for PATH. */
async function cliOnPath(): Promise<string> {
  const bin = join(await tempDir(), 'bin')
  await mkdir(bin)
  await symlink(BIN, join(bin, 'cli-login'))
  return bin
}

test('the kubeconfig exec snippet: its command and args print an ExecCredential of its apiVersion', async () => {
  const [yaml] = codeBlocks(section('### Kubernetes')).filter((block) => block.lang === 'yaml')
  const command = /^\s*command: (\S+)$/m.exec(yaml.code)?.[1]
  const args = /^\s*args: \[(.*)\]$/m.exec(yaml.code)?.[1].split(', ')
  const apiVersion = /^\s*apiVersion: (\S+)$/m.exec(yaml.code)?.[1]
  assert.ok(command && args && apiVersion, yaml.code)
  const profile = args[args.indexOf('--profile') + 1]

  const home = await tempDir()
  const now = Math.floor(Date.now() / 1000)
  const session = { version: 1, issuer: 'https://tenant.example/', clientId: 'k8s', requestedScope: 'openid', tokenType: 'Bearer', accessToken: 'the-access-token', expiresAt: now + 3600, idToken: 'the.id.token', idTokenExpiresAt: now + 1800, user: {}, createdAt: now }
  const dir = join(home, 'cli-login', 'profiles', profile)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'session.json'), JSON.stringify(session))
  const env = cleanEnv(home, { PATH: `${await cliOnPath()}:${process.env.PATH}` })
  const result = await run(command, args, env, home)
  assert.equal(result.code, 0, result.stderr)
  const credential = JSON.parse(result.stdout)
  assert.equal(credential.apiVersion, apiVersion)
  assert.equal(credential.kind, 'ExecCredential')
  assert.equal(credential.status.token, 'the.id.token')
  assert.equal(credential.status.expirationTimestamp, new Date((now + 1800) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'))
})

test('the bash completion line installs a completion for cli-login', async () => {
  const blocks = codeBlocks(section('### Shell completion')).filter((block) => block.lang === 'sh')
  assert.equal(blocks.length, 1)
  const env = { PATH: `${await cliOnPath()}:${process.env.PATH}` }
  const result = spawnSync('bash', ['-c', `${blocks[0].code}\ncomplete -p cli-login`], { env, encoding: 'utf8' })
  assert.equal(result.status, 0, result.stderr)
  assert.match(result.stdout, /-F _cli_login cli-login/)
})

test('the CLI overview names every command; the error table every code', () => {
  const [overview] = codeBlocks(section('## CLI')).filter((block) => block.lang === '')
  const listed = [...overview.code.matchAll(/^cli-login (\S+)/gm)].map((m) => m[1])
  assert.deepEqual(listed.sort(), [...COMMANDS].sort())
  const errors = section('### Errors')
  for (const code of Object.values(ErrorCode)) assert.ok(errors.includes(`\`${code}\``), code)
})

const NO_BROWSER = '## No browser here: paste-back, two steps, QR codes'

test('no browser here: the prompt line shown is the one login prints on a terminal', async () => {
  const [prompt] = codeBlocks(section(NO_BROWSER)).filter((block) => block.lang === '')
  const home = await tempDir()
  let stderr = ''
  const terminal = Object.assign(new PassThrough(), { isTTY: true })
  const args = ['login', '--issuer', provider.issuer, '--client-id', 'acme-cli', '--port', String(await findFreePortRange(1)), '--port-attempts', '1', '--timeout', '0.5']
  const code = await main(args, defaultSystem({ env: cleanEnv(home), platform: 'linux' }), { stdout: () => {}, stderr: (text) => (stderr += text), terminalInput: () => terminal })
  assert.equal(code, 1, stderr)
  assert.ok(stderr.split('\n').includes(prompt.code.trimEnd()), stderr)
})

test('no browser here: the two-step example runs as written (the address handed back by the test kit\'s browser double)', async () => {
  const [block] = codeBlocks(section(NO_BROWSER)).filter((b) => b.lang === 'sh')
  const commands = block.code.split('\n').filter((line) => line.startsWith('cli-login '))
  assert.equal(commands.length, 2, block.code)
  const dir = await tempDir()
  const env = cleanEnv(dir, { PATH: `${await cliOnPath()}:${process.env.PATH}`, CLI_LOGIN_ISSUER: provider.issuer, CLI_LOGIN_CLIENT_ID: 'acme-cli', CLI_LOGIN_PORT: String(await findFreePortRange(1)) })
  const start = await run('bash', ['-c', commands[0]], env, dir)
  assert.equal(start.code, 0, start.stderr)
  const pending = JSON.parse(await readFile(join(dir, 'pending.json'), 'utf8')) as { url: string }
  const address = await authorizeOverHttp(pending.url, { username: alice.username, password: alice.password })
  const finish = await run('bash', ['-c', commands[1]], { ...env, ADDRESS: address }, dir)
  assert.equal(finish.code, 0, finish.stderr)
  assert.match(finish.stderr, /Logged in to .* as Alice Liddell/)
})

test("the README's map of the source names the flows, the per-call context and the quirks, and every path it names exists", () => {
  const at = README.indexOf('Where things are:')
  assert.ok(at >= 0, 'README has "Where things are"')
  const paragraph = README.slice(at, README.indexOf('\n\n', at))
  for (const path of ['src/flows/', 'src/context.ts', 'src/protocol/quirks.ts']) assert.ok(paragraph.includes(`\`${path}\``), `names ${path}`)
  for (const name of ['login', 'access-token', 'logout', 'userinfo', 'login-target', 'client-registration', 'provider-metadata']) {
    assert.ok(paragraph.includes(`\`${name}\``), `names the flow ${name}`)
    assert.ok(existsSync(join(ROOT, 'src/flows', `${name}.ts`)), `src/flows/${name}.ts exists`)
  }
  const paths = [...paragraph.matchAll(/`((?:src|packages)\/[^`]+)`/g)].map((match) => match[1])
  assert.ok(paths.length >= 10)
  for (const path of paths) assert.ok(existsSync(join(ROOT, path)), `${path} exists`)
})

test('git: the README\'s credential helper line, as written, makes git fill the session\'s token for that host', async () => {
  const [block] = codeBlocks(section('### git')).filter((b) => b.lang === 'sh')
  const line = block.code.trim()
  assert.match(line, /^git config --global credential\.https:\/\/git\.example\.com\.helper '!cli-login git-credential --profile work'$/)
  const home = await tempDir()
  const now = Math.floor(Date.now() / 1000)
  const session = { version: 1, issuer: 'https://id.example.com/', clientId: 'git', requestedScope: 'openid', tokenType: 'Bearer', accessToken: 'the-git-token', expiresAt: now + 3600, user: {}, createdAt: now, resource: 'https://git.example.com/' }
  const dir = join(home, 'cli-login', 'profiles', 'work')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFile(join(dir, 'session.json'), JSON.stringify(session), { mode: 0o600 })
  // --global writes to GIT_CONFIG_GLOBAL: the developer's own git configuration is never touched.
  const env = cleanEnv(home, { PATH: `${await cliOnPath()}:${process.env.PATH}`, GIT_CONFIG_GLOBAL: join(home, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' })
  const configured = spawnSync('bash', ['-c', line], { env, encoding: 'utf8' })
  assert.equal(configured.status, 0, configured.stderr)
  const fill = spawnSync('git', ['credential', 'fill'], { env, input: 'protocol=https\nhost=git.example.com\npath=acme/repo.git\n\n', encoding: 'utf8' })
  assert.equal(fill.status, 0, fill.stderr)
  assert.match(fill.stdout, /^username=oauth2$/m)
  assert.match(fill.stdout, /^password=the-git-token$/m)
})

test('logins without a person: the client credentials, federation and enterprise examples run as written', async () => {
  const ci = await startCiTokenService()
  const service = { clientId: 'acme-deployer', clientSecret: 'deployer-secret' }
  const machines = await startTestProvider({ clients: [service, { clientId: 'acme-ci' }], trustedAssertionIssuers: [ci] })
  const mcpAs = await startTestProvider({ trustedAssertionIssuers: [provider], discovery: 'oauth2', clients: [{ clientId: 'acme-cli' }] })
  const mcp = await startProtectedResource({ authorizationServer: mcpAs })
  try {
    const path = `${await cliOnPath()}:${process.env.PATH}`
    const commandsOf = (heading: string) => {
      const [block] = codeBlocks(section(heading)).filter((b) => b.lang === 'sh')
      return block.code.split('\n').filter((line) => line.startsWith('cli-login '))
    }
    const runAll = async (commands: string[], env: NodeJS.ProcessEnv, dir: string) => {
      const results: CliResult[] = []
      for (const command of commands) {
        const result = await run('bash', ['-c', command], env, dir)
        assert.equal(result.code, 0, `${command}\n${result.stderr}`)
        results.push(result)
      }
      return results
    }

    let dir = await tempDir()
    const cc = await runAll(commandsOf('### Client credentials'), cleanEnv(dir, { PATH: path, CLI_LOGIN_ISSUER: machines.issuer, CLI_LOGIN_CLIENT_ID: service.clientId, CLI_LOGIN_CLIENT_SECRET: service.clientSecret }), dir)
    const header = /^Authorization: Bearer (\S+)$/.exec(cc[1].stdout.trim())
    assert.equal((await machines.verifyAccessToken(header?.[1] ?? ''))?.sub, service.clientId)

    dir = await tempDir()
    const fed = await runAll(commandsOf('### CI without secrets (federation)'), cleanEnv(dir, { PATH: path, CLI_LOGIN_ISSUER: machines.issuer, CLI_LOGIN_CLIENT_ID: 'acme-ci', ...ci.githubEnv }), dir)
    assert.ok(await machines.verifyAccessToken(fed[1].stdout.trim()))
    assert.equal(ci.stats.requests, 1)

    dir = await tempDir()
    const env = cleanEnv(dir, { PATH: path, CLI_LOGIN_ISSUER: provider.issuer, CLI_LOGIN_CLIENT_ID: 'acme-cli', CLI_LOGIN_PORT: String(await findFreePortRange(1)), BROWSER: `${process.execPath} ${BROWSER_DOUBLE}`, MCP_SERVER: mcp.url })
    const enterprise = await runAll(commandsOf('### Enterprise-managed authorization'), env, dir)
    assert.equal((await mcpAs.verifyAccessToken(enterprise[1].stdout.trim()))?.sub, alice.sub)
  } finally {
    await mcp.close()
    await mcpAs.close()
    await machines.close()
    await ci.close()
  }
})
