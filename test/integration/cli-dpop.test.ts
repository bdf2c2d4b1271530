/**
 * The standalone CLI with DPoP (RFC 9449): `login --dpop` (remembered by the profile), `token
 * --format dpop` from the fast path and the full CLI, raw/header/k8s refusing a DPoP token,
 * `status --json`'s token_type and jkt — against the kit's provider and protected resource.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DEMO_USERS, startProtectedResource, startTestProvider, type ProtectedResource, type TestProvider } from 'clilogin-testkit'
import { BIN, cleanEnv, makeTempHome, runCli } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
const BROWSER_DOUBLE = fileURLToPath(new URL('../helpers/browser-double-command.mjs', import.meta.url))
const CLIENT = 'cli-dpop'
let provider: TestProvider
let resource: ProtectedResource
let home: Awaited<ReturnType<typeof makeTempHome>>
let env: NodeJS.ProcessEnv
let port: number
const sessionFile = () => join(home.dir, 'cli-login', 'profiles', 'default', 'session.json')

before(async () => {
  provider = await startTestProvider({ clients: [{ clientId: CLIENT, dpop: true }, { clientId: 'cli-bearer' }] })
  resource = await startProtectedResource({ authorizationServer: provider, path: '/api' })
  home = await makeTempHome()
  env = cleanEnv(home.dir)
  port = await findFreePortRange(3)
})
after(async () => {
  await resource.close()
  await provider.close()
  await home.cleanup()
})

function login(args: string[], profileEnv = env) {
  return runMain(['login', '--issuer', provider.issuer, '--port', String(port), '--port-attempts', '3', ...args], profileEnv, { username: alice.username, password: alice.password })
}

/** Runs a shell line (pipefail) without blocking this process, where the provider runs. */
function bash(line: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', line], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** Sends the two header lines `token --format dpop` printed, as `curl -H @-` would. */
function callWith(lines: string): Promise<Response> {
  const headers: Record<string, string> = {}
  for (const line of lines.trim().split('\n')) {
    const at = line.indexOf(': ')
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 2)
  }
  return fetch(resource.url, { headers })
}

test('login --dpop: a DPoP session; status --json says token_type DPoP and its jkt; the profile remembers --dpop', async () => {
  const result = await login(['--client-id', CLIENT, '--dpop', '--resource', resource.resource])
  assert.equal(result.code, 0, result.stderr)
  const status = await runMain(['status', '--json'], env)
  const json = JSON.parse(status.stdout) as Record<string, unknown>
  assert.equal(json.token_type, 'DPoP')
  assert.match(String(json.jkt), /^[A-Za-z0-9_-]{43}$/)
  const session = JSON.parse(await readFile(sessionFile(), 'utf8')) as Record<string, unknown>
  assert.equal(session.jkt, json.jkt)
  const text = await runMain(['status'], env)
  assert.ok(text.stdout.split('\n').includes(`Tokens bound to this login's key (DPoP, jkt ${String(json.jkt)}): use token --format dpop or cli-login fetch`), text.stdout)
  const settings = JSON.parse(await readFile(join(home.dir, 'cli-login', 'profiles', 'default', 'settings.json'), 'utf8')) as Record<string, unknown>
  assert.equal(settings.dpop, true)
  // A re-login without the flag uses what the profile remembers: a new key, dpop_jkt on the request.
  const again = await login([])
  assert.equal(again.code, 0, again.stderr)
  const status2 = JSON.parse((await runMain(['status', '--json'], env)).stdout) as Record<string, unknown>
  assert.notEqual(status2.jkt, json.jkt)
  assert.equal(provider.stats.authorizationRequests.at(-1)?.get('dpop_jkt'), status2.jkt)
})

test('token --format dpop prints the Authorization and DPoP lines the resource accepts, from the fast path and the full CLI', async () => {
  const url = resource.url
  // The built CLI: a fresh token is answered by the fast path.
  const fast = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', `${url}?q=1#f`], env)
  assert.equal(fast.code, 0, fast.stderr)
  const [authorization, dpop] = fast.stdout.trim().split('\n')
  assert.match(authorization, /^Authorization: DPoP \S+$/)
  assert.match(dpop, /^DPoP: [\w-]+\.[\w-]+\.[\w-]+$/)
  const payload = JSON.parse(Buffer.from(dpop.split('.')[1], 'base64url').toString()) as Record<string, unknown>
  assert.equal(payload.htm, 'GET')
  assert.equal(payload.htu, url, 'without query and fragment')
  assert.equal((await callWith(fast.stdout)).status, 200)
  // The same again is a replayed proof: refused.
  assert.equal((await callWith(fast.stdout)).status, 401)
  // The full CLI (no fast path: --force-refresh) gives lines that work too.
  const full = await runCli(['token', '--format', 'dpop', '--method', 'get', '--url', url, '--force-refresh'], env)
  assert.equal(full.code, 0, full.stderr)
  assert.equal((await callWith(full.stdout)).status, 200)
})

test('the fast path really signs the proof itself (dist/token-fast.cjs answers)', async () => {
  const fastPath = fileURLToPath(new URL('../../dist/token-fast.cjs', import.meta.url))
  const probe = spawnSync(process.execPath, ['-e', `Promise.resolve(require(${JSON.stringify(fastPath)}).tryFreshToken(['--format', 'dpop', '--method', 'POST', '--url', ${JSON.stringify(resource.url)}], process.env)).then((done) => process.stderr.write(String(done)))`], { env, encoding: 'utf8' })
  assert.equal(probe.stderr, 'true')
  assert.match(probe.stdout, /^Authorization: DPoP \S+\nDPoP: \S+\n$/)
})

test('cli-login fetch on a DPoP session: a fresh proof per request, which the resource checks (key, htm, htu, ath, jti); git-credential refuses the session', async () => {
  const refusedBefore = resource.stats.refused.length
  const authorizedBefore = resource.stats.authorized
  for (let i = 0; i < 2; i++) {
    const run = await runCli(['fetch', resource.url], env)
    assert.equal(run.code, 0, run.stderr)
    assert.equal((JSON.parse(run.stdout) as { sub: string }).sub, alice.sub)
  }
  // Two requests, two proofs: a proof used twice would be refused (jti replayed).
  assert.deepEqual(resource.stats.refused.slice(refusedBefore), [])
  assert.equal(resource.stats.authorized, authorizedBefore + 2)
  const host = new URL(resource.url).host
  const git = await bash(`printf 'protocol=http\\nhost=${host}\\n\\n' | node ${JSON.stringify(BIN)} git-credential get`, env)
  assert.equal(git.status, 2, git.stderr)
  assert.equal(git.stdout, '', 'no credential for a DPoP-bound token')
  // As every usage error (exit 2): the command's usage line, then the one line that says why.
  assert.match(git.stderr.trim().split('\n').at(-1) as string, /^cli-login: the session's token is DPoP-bound .*use cli-login fetch/)
})

test('raw, header and k8s refuse a DPoP token (exit 2, naming --format dpop); --format dpop without --method/--url is a usage error', async () => {
  for (const format of ['raw', 'header', 'k8s']) {
    const result = await runCli(['token', '--format', format], env)
    assert.equal(result.code, 2, format)
    assert.equal(result.stdout, '')
    assert.match(result.stderr.trim().split('\n').at(-1) as string, /DPoP-bound .*--format dpop --method <M> --url <U>/)
  }
  const missing = await runCli(['token', '--format', 'dpop', '--url', resource.url], env)
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /--format dpop needs --method <M> and --url <U>/)
  const json = await runCli(['token', '--format', 'json'], env)
  assert.equal(json.code, 0)
  assert.equal((JSON.parse(json.stdout) as { token_type: string }).token_type, 'DPoP')
})

test('a bearer session: --format dpop prints its Authorization line alone; status --json jkt is null', async () => {
  const other = await makeTempHome()
  try {
    const bearerEnv = cleanEnv(other.dir)
    const result = await login(['--client-id', 'cli-bearer', '--dpop', 'off'], bearerEnv)
    assert.equal(result.code, 0, result.stderr)
    const status = JSON.parse((await runMain(['status', '--json'], bearerEnv)).stdout) as Record<string, unknown>
    assert.equal(status.token_type, 'Bearer')
    assert.equal(status.jkt, null)
    const lines = await runCli(['token', '--format', 'dpop', '--method', 'GET', '--url', resource.url], bearerEnv)
    assert.equal(lines.code, 0)
    assert.match(lines.stdout, /^Authorization: Bearer \S+\n$/)
  } finally {
    await other.cleanup()
  }
})

test('logout deletes the key with the session', async () => {
  const before = await readFile(sessionFile(), 'utf8')
  assert.match(before, /"dpopKey"/)
  const result = await runMain(['logout'], env)
  assert.equal(result.code, 0, result.stderr)
  await assert.rejects(readFile(sessionFile(), 'utf8'), { code: 'ENOENT' })
  // Nothing else of the profile holds the key.
  for (const name of ['settings.json']) {
    const text = await readFile(join(home.dir, 'cli-login', 'profiles', 'default', name), 'utf8').catch(() => '')
    assert.doesNotMatch(text, /"d"/)
  }
})

test("the README's DPoP example runs as written: login --dpop, then token --format dpop piped into curl -H @-", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('\n## DPoP: tokens a thief cannot use\n'), readme.indexOf('\n## Pushed authorization requests (PAR)\n'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block, 'the DPoP section has its sh block')
  const commands = block.trim().split('\n')
  assert.equal(commands.length, 2)
  const temp = await makeTempHome()
  try {
    const bin = join(temp.dir, 'bin')
    await mkdir(bin)
    await symlink(BIN, join(bin, 'cli-login'))
    const dpopResource = await startProtectedResource({ authorizationServer: provider, path: '/readme', dpop: 'required' })
    try {
      const blockEnv = cleanEnv(temp.dir, {
        PATH: `${bin}:${process.env.PATH}`,
        BROWSER: `${process.execPath} ${BROWSER_DOUBLE}`,
        CLI_LOGIN_ISSUER: provider.issuer,
        CLI_LOGIN_CLIENT_ID: CLIENT,
        CLI_LOGIN_RESOURCE: dpopResource.resource,
        CLI_LOGIN_PORT: String(port),
        API: dpopResource.url,
      })
      const login = await bash(commands[0], blockEnv)
      assert.equal(login.status, 0, login.stderr)
      const call = await bash(commands[1], blockEnv)
      assert.equal(call.status, 0, call.stderr)
      assert.equal((JSON.parse(call.stdout) as { sub: string }).sub, alice.sub)
      assert.equal(dpopResource.stats.authorized, 1)
    } finally {
      await dpopResource.close()
    }
  } finally {
    await temp.cleanup()
  }
})
