/**
 * `cli-login fetch <url>` and `cli-login git-credential` through the built CLI, against a local API:
 * curl's flags, the body byte for byte, the exit codes, the origins, redirects not followed, the
 * cached path loading nothing but its bundle, step-up and a refused token handed to the full CLI
 * (standard input kept), and the real `git ls-remote` through the helper.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BIN, cleanEnv, makeTempHome } from '../helpers/cli.ts'
import { startApiServer, type ApiServer } from '../helpers/api-server.ts'

const HOOK = fileURLToPath(new URL('../helpers/record-loads.cjs', import.meta.url))
const FAST = fileURLToPath(new URL('../../dist/fetch-fast.cjs', import.meta.url))
const FULL = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))
const TOKEN = 'tok:en-1.~x'
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

let api: ApiServer
let home: Awaited<ReturnType<typeof makeTempHome>>
let env: NodeJS.ProcessEnv

before(async () => {
  api = await startApiServer()
  home = await makeTempHome()
  env = cleanEnv(home.dir)
  await writeSession({})
  api.on('/bytes', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-answer': 'yes' })
    res.end(ALL_BYTES)
  })
  api.on('/echo', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ method: req.method, body: req.body.toString('base64'), headers: req.headers }))
  })
  api.on('/moved', (_req, res) => {
    res.writeHead(302, { location: `${api.origin}/bytes` })
    res.end()
  })
  api.on('/write', (req, res) => {
    res.writeHead(403, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="mcp:write"', 'content-type': 'application/json' })
    res.end('{"error":"insufficient_scope"}')
  })
  api.on('/refuses', (_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' })
    res.end()
  })
})

after(async () => {
  await api.close()
  await home.cleanup()
})

async function writeSession(overrides: Record<string, unknown>, profile = 'default'): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  const session = { version: 1, issuer: 'http://127.0.0.1:9/', clientId: 'c', requestedScope: 'openid mcp:read', tokenType: 'Bearer', accessToken: TOKEN, expiresAt: now + 3600, user: {}, createdAt: now, resource: `${api.origin}/mcp`, ...overrides }
  const dir = join(home.dir, 'cli-login', 'profiles', profile)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFile(join(dir, 'session.json'), JSON.stringify(session), { mode: 0o600 })
}

interface Run {
  code: number | null
  stdout: Buffer
  stderr: string
}

function cli(args: string[], options: { stdin?: Buffer | string; env?: NodeJS.ProcessEnv; node?: string[] } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.node ?? []), BIN, ...args], { env: options.env ?? env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }))
    child.stdin.end(options.stdin ?? '')
  })
}

test('the body on stdout byte for byte, the token in the Authorization header, exit 0', async () => {
  const before = api.requests.length
  const run = await cli(['fetch', `${api.origin}/bytes`])
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual(run.stdout, ALL_BYTES)
  assert.equal(run.stderr, '')
  const sent = api.requests.slice(before)
  assert.equal(sent.length, 1)
  assert.equal(sent[0].headers.authorization, `Bearer ${TOKEN}`)
})

test('-i: the status line and the headers first, as curl prints them', async () => {
  const run = await cli(['fetch', '-i', `${api.origin}/bytes`])
  assert.equal(run.code, 0, run.stderr)
  const text = run.stdout.toString('latin1')
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  assert.match(text, /\r\nx-answer: yes\r\n/)
  assert.deepEqual(run.stdout.subarray(run.stdout.indexOf('\r\n\r\n') + 4), ALL_BYTES)
})

test('-X, repeated -H and -d @file; -d without -X is a POST of a form (curl); -d @- reads standard input', async (t) => {
  const file = join(home.dir, 'body.json')
  await writeFile(file, '{"a":1}')
  const put = await cli(['fetch', '-X', 'PUT', '-H', 'Content-Type: application/json', '-H', 'X-Two: 2', '-d', `@${file}`, `${api.origin}/echo`])
  assert.equal(put.code, 0, put.stderr)
  const seen = JSON.parse(put.stdout.toString()) as { method: string; body: string; headers: Record<string, string> }
  assert.equal(seen.method, 'PUT')
  assert.equal(Buffer.from(seen.body, 'base64').toString(), '{"a":1}')
  assert.equal(seen.headers['content-type'], 'application/json')
  assert.equal(seen.headers['x-two'], '2')
  await t.test('stdin', async () => {
    const post = await cli(['fetch', '-d', '@-', `${api.origin}/echo`], { stdin: ALL_BYTES })
    assert.equal(post.code, 0, post.stderr)
    const echoed = JSON.parse(post.stdout.toString()) as { method: string; body: string; headers: Record<string, string> }
    assert.equal(echoed.method, 'POST')
    assert.deepEqual(Buffer.from(echoed.body, 'base64'), ALL_BYTES)
    assert.equal(echoed.headers['content-type'], 'application/x-www-form-urlencoded')
  })
})

test("the request's options read no CLI_LOGIN_* variable", async () => {
  const run = await cli(['fetch', `${api.origin}/echo`], { env: { ...env, CLI_LOGIN_METHOD: 'DELETE', CLI_LOGIN_DATA: 'x', CLI_LOGIN_HEADER: 'X-Env: 1', CLI_LOGIN_INCLUDE: '1' } })
  assert.equal(run.code, 0, run.stderr)
  const seen = JSON.parse(run.stdout.toString()) as { method: string; headers: Record<string, string> }
  assert.equal(seen.method, 'GET')
  assert.equal(seen.headers['x-env'], undefined)
})

test('another status: the body still on stdout, one line naming it, exit 1; a 3xx is not followed', async () => {
  const missing = await cli(['fetch', `${api.origin}/nothing`])
  assert.equal(missing.code, 1)
  assert.equal(missing.stdout.toString(), 'not here')
  assert.match(missing.stderr, /^cli-login: http:\/\/127\.0\.0\.1:\d+\/nothing answered HTTP 404 Not Found\n$/)
  const before = api.requests.length
  const moved = await cli(['fetch', `${api.origin}/moved`])
  assert.equal(moved.code, 1)
  assert.match(moved.stderr, /HTTP 302 Found \(a redirect to .*\/bytes, not followed with the token\)/)
  assert.deepEqual(api.requests.slice(before).map((r) => r.path), ['/moved'])
})

test('an origin the session was not made for: refused before anything is sent (exit 2); --allow-origin adds it', async () => {
  const other = await startApiServer()
  try {
    other.on('/x', (_req, res) => res.end('other'))
    const refused = await cli(['fetch', `${other.origin}/x`])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr.trimEnd().split('\n').pop() ?? '', /^cli-login: the session's token is not sent to http:\/\/127\.0\.0\.1:\d+: it goes only to http:\/\/127\.0\.0\.1:\d+; --allow-origin <origin> sends it there too$/)
    assert.equal(other.requests.length, 0)
    const allowed = await cli(['fetch', '--allow-origin', other.origin, `${other.origin}/x`])
    assert.equal(allowed.code, 0, allowed.stderr)
    assert.equal(allowed.stdout.toString(), 'other')
  } finally {
    await other.close()
  }
})

test('bad flags: one line, exit 2', async () => {
  for (const args of [['fetch'], ['fetch', '-H', 'no colon', `${api.origin}/echo`], ['fetch', '-H', 'Authorization: Bearer x', `${api.origin}/echo`], ['fetch', '-X', 'GET', '-d', 'x', `${api.origin}/echo`], ['fetch', 'ftp://x/']]) {
    const run = await cli(args)
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
    assert.equal(run.stderr.trimEnd().split('\n').filter((l) => l.startsWith('cli-login:')).length, 1, run.stderr)
    assert.doesNotMatch(run.stderr, /\n\s+at /)
  }
})

test('403 insufficient_scope: exit 4 with the login to run (the union of the scopes), no browser, the request not sent again', async () => {
  const before = api.requests.length
  const run = await cli(['fetch', '-d', '@-', `${api.origin}/write`], { stdin: 'the body' })
  assert.equal(run.code, 4)
  assert.match(run.stderr, /the resource asks for scope "mcp:write" \(insufficient_scope\), so a new login for scope "openid mcp:read mcp:write" is needed: run cli-login login --scope "openid mcp:read mcp:write"\n$/)
  const sent = api.requests.slice(before)
  assert.deepEqual(sent.map((r) => [r.path, r.body.toString()]), [['/write', 'the body']], 'sent by the cached path; the full CLI acts on its answer')
})

test('401 invalid_token and no refresh token: exit 4, run the login', async () => {
  const run = await cli(['fetch', `${api.origin}/refuses`])
  assert.equal(run.code, 4)
  assert.match(run.stderr, /run cli-login login\n$/)
})

test('a resource that cannot be reached: one line naming it, exit 1', async () => {
  const gone = await startApiServer()
  const origin = gone.origin
  await gone.close()
  const run = await cli(['fetch', '--allow-origin', origin, `${origin}/x`])
  assert.equal(run.code, 1)
  assert.equal(run.stderr, `cli-login: could not reach ${origin} (ECONNREFUSED)\n`)
})

test('a connection dropped after the whole request went out: one line, exit 1, and the request is never sent again', async () => {
  api.on('/drops', (_request, res) => res.socket?.destroy())
  const before = api.requests.length
  const run = await cli(['fetch', '-d', 'pay=1', `${api.origin}/drops`])
  assert.equal(run.code, 1, run.stderr)
  assert.match(run.stderr, new RegExp(`^cli-login: could not reach ${api.origin} \\((ECONNRESET|socket hang up)\\)\\n$`))
  assert.deepEqual(api.requests.slice(before).map((r) => [r.method, r.path, r.body.toString()]), [['POST', '/drops', 'pay=1']], 'sent once')
})

test('a header value with a control character is a usage error (exit 2), nothing sent', async () => {
  const before = api.requests.length
  const run = await cli(['fetch', '-H', 'X-Note: a\u0001b', `${api.origin}/bytes`])
  assert.equal(run.code, 2)
  assert.match(run.stderr.trim().split('\n').at(-1) as string, /^cli-login: --header X-Note: the value has a control character/)
  assert.equal(api.requests.length, before)
})

test('no session: exit 4', async () => {
  const run = await cli(['fetch', '--profile', 'nobody', `${api.origin}/bytes`])
  assert.equal(run.code, 4)
  assert.match(run.stderr, /not logged in \(profile "nobody"\): run cli-login login/)
})

test('a cached fetch loads only node:* modules and its bundle; an expired token loads the full CLI', async () => {
  const record = join(home.dir, 'loads.json')
  const run = await cli(['fetch', `${api.origin}/bytes`], { node: ['--require', HOOK], env: { ...env, RECORD_LOADS_FILE: record } })
  assert.equal(run.code, 0, run.stderr)
  const loads = JSON.parse(await readFile(record, 'utf8')) as { requests: string[]; files: string[] }
  const isBuiltin = (request: string) => request.startsWith('node:') || builtinModules.includes(request)
  assert.deepEqual(loads.requests.filter((r) => !isBuiltin(r) && r !== BIN && !r.startsWith('./') && !r.startsWith('../')), [])
  assert.deepEqual(loads.files.filter((file) => file !== HOOK).sort(), [BIN, FAST].sort())

  await writeSession({ expiresAt: Math.floor(Date.now() / 1000) - 10 }, 'stale')
  const stale = await cli(['fetch', '--profile', 'stale', `${api.origin}/bytes`], { node: ['--require', HOOK], env: { ...env, RECORD_LOADS_FILE: record } })
  assert.equal(stale.code, 4)
  assert.ok((JSON.parse(await readFile(record, 'utf8')) as { files: string[] }).files.includes(FULL))
})

test('git-credential get: the token as the password for the session\'s origin, nothing for another', async () => {
  const host = new URL(api.origin).host
  const run = await cli(['git-credential', 'get'], { stdin: `protocol=http\nhost=${host}\npath=repo.git\n\n` })
  assert.equal(run.code, 0, run.stderr)
  const expiry = Number(/password_expiry_utc=(\d+)/.exec(run.stdout.toString())?.[1])
  assert.ok(expiry > Date.now() / 1000)
  assert.equal(run.stdout.toString(), `username=oauth2\npassword=${TOKEN}\npassword_expiry_utc=${expiry}\n`)
  const other = await cli(['git-credential', 'get'], { stdin: 'protocol=https\nhost=github.com\n\n' })
  assert.equal(other.code, 0, other.stderr)
  assert.equal(other.stdout.toString(), '')
  for (const operation of ['store', 'erase']) {
    const ignored = await cli(['git-credential', operation], { stdin: `protocol=http\nhost=${host}\nusername=u\npassword=p\n\n` })
    assert.equal(ignored.code, 0)
    assert.equal(ignored.stdout.toString(), '')
  }
})

test('git-credential get with capability[]=authtype (git ≥ 2.46): authtype=Bearer and credential', async () => {
  const host = new URL(api.origin).host
  const run = await cli(['git-credential', 'get'], { stdin: `capability[]=authtype\nprotocol=http\nhost=${host}\n\n` })
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout.toString(), new RegExp(`^capability\\[\\]=authtype\nauthtype=Bearer\ncredential=${TOKEN.replace(/[.~]/g, '\\$&')}\npassword_expiry_utc=\\d+\n$`))
})

test('git-credential refuses a DPoP-bound session: one line, exit 2', async () => {
  await writeSession({ tokenType: 'DPoP' }, 'bound')
  const run = await cli(['git-credential', '--profile', 'bound', 'get'], { stdin: `protocol=http\nhost=${new URL(api.origin).host}\n\n` })
  assert.equal(run.code, 2)
  assert.equal(run.stdout.toString(), '')
  assert.match(run.stderr.trimEnd().split('\n').pop() ?? '', /^cli-login: the session's token is DPoP-bound .*use cli-login fetch/)
})

test("the real git (Basic, the token as the password) runs ls-remote through the helper", async () => {
  api.on('/repo.git/info/refs', (req, res) => {
    if (req.headers.authorization !== `Basic ${Buffer.from(`oauth2:${TOKEN}`).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' })
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('0123456789abcdef0123456789abcdef01234567\trefs/heads/main\n')
  })
  const helper = `!"${process.execPath}" "${BIN}" git-credential`
  // Not spawnSync: the API answering git runs in this process.
  const git = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('git', ['-c', 'credential.helper=', '-c', `credential.helper=${helper}`, 'ls-remote', `${api.origin}/repo.git`], { env: { ...env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
  assert.equal(git.status, 0, git.stderr)
  assert.equal(git.stdout, '0123456789abcdef0123456789abcdef01234567\trefs/heads/main\n')
})
