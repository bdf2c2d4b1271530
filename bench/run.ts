/**
 * cli-login benchmarks: `npm run build && npm run bench`. Prints one table (every figure beside its
 * baseline and target) and writes the same to bench/results.json. See bench/README.md.
 *
 * Exits non-zero only when the benchmark itself crashes; a missed target is a "fail" in the table.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DEMO_CLIENT_ID, DEMO_USERS, startCiTokenService, startProtectedResource, startTestProvider as startDemoProvider, type CiTokenService, type TestProvider as DemoProvider } from 'clilogin-testkit'
import { authorizeOverHttp } from 'clilogin-testkit'
import { findFreePortRange } from '../test/helpers/ports.ts'
import { cleanEnv } from '../test/helpers/cli.ts'
import type * as Library from '../src/index.ts'
import { CONCURRENCY, figureSpec, GROUPS, type FigureId } from './figures.ts'
import { FIGURE_LIST_MARKERS, figureList, fmt, README_TABLE_MARKERS, replaceBetweenMarkers, resultsTable, type MeasuredFigure, type Stats } from './table.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'cli-login.cjs')
const BASELINE_LOGIN = join(ROOT, 'bench', 'baseline-login.mjs')
const BASELINE_REFRESH = join(ROOT, 'bench', 'baseline-refresh.mjs')
const BASELINE_APPAUTH = join(ROOT, 'bench', 'baseline-appauth-login.mjs')
const RESULTS = join(ROOT, 'bench', 'results.json')
const NODE = process.execPath
const USER = { username: DEMO_USERS[0].username, password: DEMO_USERS[0].password }
/** The workload client of the federated logins (a public client: no secret, only the CI token). */
const FEDERATED_CLIENT_ID = 'bench-ci-workload'

/** Runs per figure (after warm-up). */
const RUNS = { tokenCached: 40, library: 10, login: 12, refresh: 12, concurrentRounds: 6 }
const CHILD_TIMEOUT_MS = 30_000

// ---------------------------------------------------------------------------------------------
// Statistics, clocks, table
// ---------------------------------------------------------------------------------------------

function stats(samples: number[]): Stats {
  if (samples.length === 0) throw new Error('no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length }
}

/** Milliseconds, monotonic, sub-millisecond. */
const nowMs = (): number => performance.now()
/** performance.now() of an epoch-nanosecond timestamp (as printed by `date +%s%N`). */
const epochNsToPerfMs = (ns: bigint): number => Number(ns / 1000n) / 1000 - performance.timeOrigin

const figures: MeasuredFigure[] = []
/** Declared figures this run could not measure, and why. */
const skipped = new Map<string, string>()

/**
 * Records a measurement of a declared figure (bench/figures.ts: its label, unit, baseline name and
 * target); `checksOk: false` fails a figure with a target whatever its numbers.
 */
function addFigure(id: FigureId, measured: { samples: number[]; baseline?: number[]; checksOk?: boolean; notes?: string[]; extra?: Record<string, unknown> }): void {
  const spec = figureSpec(id)
  const value = stats(measured.samples)
  const baseline = measured.baseline && { name: spec.baseline ?? 'baseline', value: stats(measured.baseline), samples: measured.baseline }
  const ratio = baseline ? value.median / baseline.value.median : undefined
  const { target } = spec
  let pass: boolean | undefined
  if (target?.kind === 'ratio<=' && ratio !== undefined) pass = ratio <= target.limit
  if (target?.kind === 'ratio>=' && ratio !== undefined) pass = ratio >= target.limit
  if (target?.kind === 'value>=') pass = value.median >= target.limit
  if (target?.kind === 'value<=') pass = value.median <= target.limit
  if (pass !== undefined && measured.checksOk === false) pass = false
  figures.push({ id, name: spec.label, unit: spec.unit, value, samples: measured.samples, baseline, ratio, target, pass, notes: measured.notes, extra: measured.extra })
  const verdict = pass === undefined ? '' : pass ? ' pass' : ' FAIL'
  console.error(`  ${id} ${spec.label}: ${fmt(value.median, spec.unit)}${ratio !== undefined ? ` (ratio ${ratio.toFixed(3)})` : ''}${verdict}`)
}

function skipFigures(ids: FigureId[], reason: string): void {
  for (const id of ids) skipped.set(id, reason)
  console.error(`  ${ids.join(', ')} skipped: ${reason}`)
}

function notesOf(measured: readonly MeasuredFigure[]): string[] {
  return measured.flatMap((f) => (f.notes ?? []).map((n) => `  ${f.id}: ${n}`))
}

// ---------------------------------------------------------------------------------------------
// Children: every one is tracked so that a failure kills what is still running
// ---------------------------------------------------------------------------------------------

const running = new Set<ChildProcess>()

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** performance.now() when spawn() was called and when the 'exit' event came. */
  startMs: number
  exitMs: number
}

interface Started { child: ChildProcess; startMs: number; done: Promise<Exit> }

function start(command: string, args: string[], env: NodeJS.ProcessEnv): Started {
  const startMs = nowMs()
  const child = spawn(command, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let stdout = ''
  let stderr = ''
  let exitMs = 0
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.once('exit', () => (exitMs = nowMs()))
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
  const done = new Promise<Exit>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer)
      running.delete(child)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ code, signal, stdout, stderr, startMs, exitMs: exitMs || nowMs() })
    })
  })
  done.catch(() => {})
  return { child, startMs, done }
}

function killAll(): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}

function describeExit(what: string, exit: { code: number | null; signal?: NodeJS.Signals | null; stderr: string }): string {
  return `${what} exited ${exit.code ?? exit.signal}: ${exit.stderr.trim().split('\n').slice(-3).join(' / ')}`
}

function mustSucceed(what: string, exit: Exit): Exit {
  if (exit.code !== 0) throw new Error(describeExit(what, exit))
  return exit
}

/** Wall time of one synchronous run (spawnSync + hrtime), stdout captured. */
function timeSync(args: string[], env: NodeJS.ProcessEnv): { ms: number; result: SpawnSyncReturns<string> } {
  const t0 = process.hrtime.bigint()
  const result = spawnSync(NODE, args, { env, cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: CHILD_TIMEOUT_MS })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (result.error) throw result.error
  return { ms, result }
}

/** Peak RSS (MiB) of one synchronous run through GNU time. */
function rssSync(args: string[], env: NodeJS.ProcessEnv, rssFile: string): { mib: number; result: SpawnSyncReturns<string> } {
  const result = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, NODE, ...args], { env, cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: CHILD_TIMEOUT_MS })
  if (result.error) throw result.error
  return { mib: parseRss(readFileSync(rssFile, 'utf8')), result }
}

async function readRss(rssFile: string): Promise<number> {
  return parseRss(await readFile(rssFile, 'utf8'))
}

/** GNU time -f %M: peak RSS in KiB on the last line (a line before it may say the command failed). */
function parseRss(text: string): number {
  const lines = text.trim().split('\n')
  const kib = Number(lines[lines.length - 1])
  if (!Number.isFinite(kib) || kib <= 0) throw new Error(`unexpected /usr/bin/time output: ${JSON.stringify(lines)}`)
  return kib / 1024
}

// ---------------------------------------------------------------------------------------------
// Bench context: temp dir, provider, fake browser, sessions
// ---------------------------------------------------------------------------------------------

interface Ctx {
  dir: string
  provider: DemoProvider
  /** The stand-in for GitHub Actions' token service the provider trusts (federated logins). */
  ci: CiTokenService
  env: NodeJS.ProcessEnv
  cliHome: string
  browserScript: string
  /** Shared by the copies figures make with another provider (`{ ...ctx, provider }`): every run's files and profiles are its own. */
  runs: { count: number }
}

function sessionPath(ctx: Ctx, profile: string): string {
  return join(ctx.cliHome, 'profiles', profile, 'session.json')
}

/** The fake browser: records `<epoch-ns> <url>` in the file named by BENCH_BROWSER_LOG, then exits. */
async function writeBrowserScript(dir: string): Promise<string> {
  const path = join(dir, 'browser.sh')
  await writeFile(path, '#!/bin/sh\nfor url; do :; done\nprintf \'%s %s\\n\' "$(date +%s%N)" "$url" >> "$BENCH_BROWSER_LOG"\n')
  await chmod(path, 0o755)
  await mkdir(join(dir, 'bin'), { recursive: true })
  await symlink(path, join(dir, 'bin', 'xdg-open'))
  return path
}

/** Polls the browser log until a line appears (or the tool exits first). */
async function waitForBrowser(logFile: string, started: Started, what: string): Promise<{ atMs: number; url: string }> {
  let exited: Exit | undefined
  void started.done.then((exit) => (exited = exit), () => {})
  const deadline = nowMs() + CHILD_TIMEOUT_MS
  for (;;) {
    const text = await readFile(logFile, 'utf8').catch(() => '')
    const match = /^(\d+) (\S+)$/m.exec(text)
    if (match) return { atMs: epochNsToPerfMs(BigInt(match[1])), url: match[2] }
    if (exited) throw new Error(describeExit(`${what} (before opening the browser)`, exited))
    if (nowMs() > deadline) throw new Error(`${what}: no browser started after ${CHILD_TIMEOUT_MS} ms`)
    await sleep(2)
  }
}

interface LoginTiming {
  /** Process start → BROWSER command invoked. */
  toBrowserMs: number
  /** Callback request sent → process exited. */
  afterCallbackMs: number
  toolOnlyMs: number
  rssMib?: number
}

type LoginTool = 'cli-login' | 'baseline' | 'appauth'

/**
 * One login through a spawned tool: BROWSER records when it was invoked; the bench signs in over
 * HTTP, then requests the callback itself and waits for the tool to exit.
 */
async function timedLogin(ctx: Ctx, tool: LoginTool, opts: { profile?: string; withRss?: boolean; env?: NodeJS.ProcessEnv; target?: string[] } = {}): Promise<LoginTiming> {
  const n = ++ctx.runs.count
  const logFile = join(ctx.dir, `browser-${n}.log`)
  const rssFile = join(ctx.dir, `rss-${n}.txt`)
  const port = await findFreePortRange(1)
  // AppAuth's opener runs xdg-open: the fake browser stands first on PATH under that name.
  const base = opts.env ?? ctx.env
  const env = { ...base, BROWSER: ctx.browserScript, BENCH_BROWSER_LOG: logFile, PATH: `${join(ctx.dir, 'bin')}:${base.PATH ?? ''}` }
  const toolArgs =
    tool === 'cli-login'
      ? [BIN, 'login', ...(opts.target ?? ['--issuer', ctx.provider.issuer, '--client-id', DEMO_CLIENT_ID]), '--port', String(port), '--profile', opts.profile ?? 'login']
      : [tool === 'appauth' ? BASELINE_APPAUTH : BASELINE_LOGIN, ctx.provider.issuer, DEMO_CLIENT_ID, String(port), join(ctx.dir, `${tool}-login-session.json`)]
  const started = opts.withRss ? start('/usr/bin/time', ['-f', '%M', '-o', rssFile, NODE, ...toolArgs], env) : start(NODE, toolArgs, env)
  try {
    const browser = await waitForBrowser(logFile, started, tool)
    const callbackUrl = await authorizeOverHttp(browser.url, USER)
    const sentMs = nowMs()
    const response = await fetch(callbackUrl, { redirect: 'manual' })
    const body = await response.text()
    const exit = mustSucceed(`${tool} login`, await started.done)
    if (response.status !== 200) throw new Error(`${tool} login: callback answered ${response.status}: ${body.slice(0, 200)}`)
    const toBrowserMs = browser.atMs - started.startMs
    const afterCallbackMs = exit.exitMs - sentMs
    return {
      toBrowserMs,
      afterCallbackMs,
      toolOnlyMs: toBrowserMs + afterCallbackMs,
      rssMib: opts.withRss ? await readRss(rssFile) : undefined,
    }
  } catch (error) {
    started.child.kill('SIGKILL')
    throw error
  }
}

/** A federated login on an empty profile (no browser): spawn → exit is all tool time. */
async function timedFederatedLogin(ctx: Ctx, profile = `federated-${++ctx.runs.count}`): Promise<LoginTiming> {
  const env = { ...ctx.env, ...ctx.ci.githubEnv }
  const exit = mustSucceed('federated login', await start(NODE, [BIN, 'login', '--federated', 'github', '--issuer', ctx.provider.issuer, '--client-id', FEDERATED_CLIENT_ID, '--profile', profile], env).done)
  const toolOnlyMs = exit.exitMs - exit.startMs
  return { toBrowserMs: 0, afterCallbackMs: toolOnlyMs, toolOnlyMs }
}

async function readSession(file: string): Promise<Record<string, unknown> & { accessToken: string; expiresAt?: number }> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> & { accessToken: string; expiresAt?: number }
}

/** Makes a stored session expired (expiresAt an hour ago), so the next `token` refreshes. */
async function expire(file: string): Promise<string> {
  const session = await readSession(file)
  session.expiresAt = Math.floor(Date.now() / 1000) - 3600
  await writeFile(file, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 })
  return session.accessToken
}

const refreshGrants = (ctx: Ctx): number => ctx.provider.stats.grants.refresh_token ?? 0
const providerRequests = (ctx: Ctx): number => Object.values(ctx.provider.stats.requests).reduce((sum, count) => sum + count, 0)

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/** 1. `cli-login token` with a valid cached token vs `node -e 0` (and a plain read-the-JSON script). */
async function figureTokenCached(ctx: Ctx): Promise<void> {
  console.error('1. cli-login token, cached token')
  const file = sessionPath(ctx, 'token')
  const expected = (await readSession(file)).accessToken
  const readScript = join(ctx.dir, 'read-session.cjs')
  await writeFile(readScript, "'use strict'\nconst s = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'))\nprocess.stdout.write(s.accessToken + '\\n')\n")
  const federatedToken = (await readSession(sessionPath(ctx, 'federated'))).accessToken
  const ciRequests = ctx.ci.stats.requests
  const commands = {
    token: [BIN, 'token', '--profile', 'token'],
    node: ['-e', '0'],
    script: [readScript, file],
    federated: [BIN, 'token', '--profile', 'federated'],
  }
  const check = (name: string, result: SpawnSyncReturns<string>) => {
    if (result.status !== 0) throw new Error(describeExit(name, { code: result.status, signal: result.signal, stderr: result.stderr }))
    const stored = name === 'federated' ? federatedToken : expected
    if (name !== 'node' && result.stdout.trim() !== stored) throw new Error(`${name} printed ${JSON.stringify(result.stdout.slice(0, 80))}, not the stored token`)
  }
  const names = Object.keys(commands) as Array<keyof typeof commands>
  const wall: Record<string, number[]> = { token: [], node: [], script: [], federated: [] }
  const rss: Record<string, number[]> = { token: [], node: [], script: [], federated: [] }
  const rssFile = join(ctx.dir, 'rss-token.txt')
  for (let i = -3; i < RUNS.tokenCached; i++) {
    // Rotate the order every run so that no command always goes first.
    const order = names.map((_, k) => names[(k + i + 3) % names.length])
    for (const name of order) {
      const { ms, result } = timeSync(commands[name], ctx.env)
      check(name, result)
      if (i >= 0) wall[name].push(ms)
    }
    for (const name of order) {
      const { mib, result } = rssSync(commands[name], ctx.env, rssFile)
      check(name, result)
      if (i >= 0) rss[name].push(mib)
    }
  }
  addFigure('1a', { samples: wall.token, baseline: wall.node })
  addFigure('1b', { samples: rss.token, baseline: rss.node })
  addFigure('1c', { samples: wall.script, baseline: wall.node })
  addFigure('1d', { samples: rss.script, baseline: rss.node })
  const noCiToken = ctx.ci.stats.requests === ciRequests
  addFigure('1f', { samples: wall.federated, baseline: wall.node, checksOk: noCiToken, notes: noCiToken ? [] : ['a cached federated token fetched a CI token'] })
  // Wall time on a shared 2-core machine drifts by ±10 %; instructions counted by valgrind drift
  // less (a few %, from Node's background threads), so this row tells a slower fast path from a
  // busier machine better than 1a does.
  const instructions = (args: string[]): number | undefined => {
    const result = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', NODE, ...args], { env: ctx.env, encoding: 'utf8', timeout: 120_000 })
    const match = /Collected : (\d+)/.exec(result.stderr ?? '')
    return match ? Math.round(Number(match[1]) / 1e5) / 10 : undefined
  }
  const tokenInstructions = instructions(commands.token)
  const nodeInstructions = instructions(commands.node)
  if (tokenInstructions !== undefined && nodeInstructions !== undefined) {
    addFigure('1e', { samples: [tokenInstructions], baseline: [nodeInstructions] })
  } else {
    skipFigures(['1e'], 'valgrind is not installed')
  }
}

/** 2. getAccessToken() in a loop, one process, valid cached token. */
async function figureLibrary(ctx: Ctx): Promise<void> {
  console.error('2. getAccessToken() loop')
  const entry = join(ROOT, 'dist', 'index.js')
  const { CliLogin } = (await import(pathToFileURL(entry).href)) as typeof Library
  const auth = new CliLogin({ appName: 'cli-login', home: ctx.cliHome, profile: 'token', system: { env: {} } })
  const expected = (await readSession(sessionPath(ctx, 'token'))).accessToken
  const first = await auth.getAccessToken()
  if (first.access_token !== expected) throw new Error('getAccessToken() did not return the stored token')
  const batch = async (durationMs: number): Promise<number> => {
    let calls = 0
    const t0 = nowMs()
    let elapsed = 0
    while (elapsed < durationMs) {
      for (let k = 0; k < 100; k++) await auth.getAccessToken()
      calls += 100
      elapsed = nowMs() - t0
    }
    return (calls / elapsed) * 1000
  }
  await batch(300) // warm-up
  const samples: number[] = []
  for (let i = 0; i < RUNS.library; i++) samples.push(await batch(200))
  addFigure('2', { samples })
}

/** 3. Login, tool-only time and peak RSS, cli-login vs bench/baseline-login.mjs, alternating. */
async function figureLogin(ctx: Ctx): Promise<void> {
  console.error('3. login (tool-only time, peak RSS)')
  // Warm-up: one of each (cli-login's caches the provider metadata in profile "login").
  await timedLogin(ctx, 'cli-login')
  await timedLogin(ctx, 'baseline')
  await timedLogin(ctx, 'appauth')
  await timedFederatedLogin(ctx)
  type Run = 're-login' | 'first' | 'baseline' | 'federated'
  const t: Record<Run, LoginTiming[]> = { 're-login': [], first: [], baseline: [], federated: [] }
  const ciBefore = ctx.ci.stats.requests
  const rss: Record<LoginTool, number[]> = { 'cli-login': [], baseline: [], appauth: [] }
  // A re-login replaces the profile's session (its refresh token is revoked); a first login starts
  // from an empty profile (no session, no cached provider metadata).
  const runs: Record<Run, () => Promise<LoginTiming>> = {
    're-login': () => timedLogin(ctx, 'cli-login'),
    first: () => timedLogin(ctx, 'cli-login', { profile: `first-${ctx.runs.count + 1}` }),
    baseline: () => timedLogin(ctx, 'baseline'),
    federated: () => timedFederatedLogin(ctx),
  }
  const kinds = Object.keys(runs) as Run[]
  const tools: LoginTool[] = ['cli-login', 'baseline', 'appauth']
  for (let i = 0; i < RUNS.login; i++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + i) % kinds.length]
      t[kind].push(await runs[kind]())
    }
    for (let k = 0; k < tools.length; k++) {
      const tool = tools[(k + i) % tools.length]
      rss[tool].push((await timedLogin(ctx, tool, { withRss: true })).rssMib!)
    }
  }
  const pick = (run: Run, key: keyof LoginTiming) => t[run].map((x) => x[key] as number)
  addFigure('3a', { samples: pick('re-login', 'toolOnlyMs'), baseline: pick('baseline', 'toolOnlyMs') })
  addFigure('3b', { samples: pick('re-login', 'toBrowserMs'), baseline: pick('baseline', 'toBrowserMs') })
  addFigure('3c', { samples: pick('re-login', 'afterCallbackMs'), baseline: pick('baseline', 'afterCallbackMs') })
  addFigure('3e', { samples: pick('first', 'toolOnlyMs'), baseline: pick('baseline', 'toolOnlyMs') })
  const oneCiTokenEach = ctx.ci.stats.requests - ciBefore === RUNS.login
  addFigure('3g', {
    samples: pick('federated', 'toolOnlyMs'),
    baseline: pick('first', 'toolOnlyMs'),
    checksOk: oneCiTokenEach,
    notes: oneCiTokenEach ? [] : [`expected ${RUNS.login} CI tokens fetched, the service counted ${ctx.ci.stats.requests - ciBefore}`],
  })
  addFigure('3d', { samples: rss['cli-login'], baseline: rss.baseline })
  addFigure('3f', { samples: rss['cli-login'], baseline: rss.appauth })
}

/**
 * 8. A zero-configuration first login (`login --resource`: resource metadata, authorization server
 * metadata, a registration) against the first login with the issuer and a pre-registered client
 * given, both on an empty profile, against the same registration-enabled provider; alternating.
 */
async function figureZeroConfiguration(ctx: Ctx): Promise<void> {
  console.error('8. zero-configuration first login')
  const provider = await startDemoProvider({ registration: true })
  const api = await startProtectedResource({ authorizationServer: provider })
  try {
    const zeroConfig = { ...ctx, provider }
    const kinds = {
      resource: () => timedLogin(zeroConfig, 'cli-login', { profile: `zero-${ctx.runs.count + 1}`, target: ['--resource', api.url] }),
      issuer: () => timedLogin(zeroConfig, 'cli-login', { profile: `issuer-${ctx.runs.count + 1}` }),
    }
    await kinds.resource()
    await kinds.issuer()
    const registrations = provider.stats.registrations
    const t: Record<keyof typeof kinds, number[]> = { resource: [], issuer: [] }
    for (let i = 0; i < RUNS.login; i++) {
      for (const kind of (i % 2 ? ['issuer', 'resource'] : ['resource', 'issuer']) as Array<keyof typeof kinds>) t[kind].push((await kinds[kind]()).toolOnlyMs)
    }
    const checksOk = provider.stats.registrations === registrations + RUNS.login
    addFigure('8a', {
      samples: t.resource,
      baseline: t.issuer,
      checksOk,
      notes: checksOk ? [] : [`expected ${RUNS.login} registrations, the provider counted ${provider.stats.registrations - registrations}`],
    })
  } finally {
    await api.close()
    await provider.close()
  }
}

/** 4. `cli-login token` on an expired session (one refresh) vs bench/baseline-refresh.mjs. */
async function figureRefresh(ctx: Ctx): Promise<void> {
  console.error('4. token with one refresh')
  const cliFile = sessionPath(ctx, 'refresh')
  const baseFile = sessionPath(ctx, 'refresh-baseline')
  const samples: Record<'cli' | 'base', number[]> = { cli: [], base: [] }
  let checksOk = true
  const notes: string[] = []
  const one = async (which: 'cli' | 'base'): Promise<number> => {
    const previous = await expire(which === 'cli' ? cliFile : baseFile)
    const grants = refreshGrants(ctx)
    const requests = providerRequests(ctx)
    const args = which === 'cli' ? [BIN, 'token', '--profile', 'refresh'] : [BASELINE_REFRESH, baseFile]
    const exit = mustSucceed(which === 'cli' ? 'cli-login token (refresh)' : 'baseline-refresh', await start(NODE, args, ctx.env).done)
    const token = exit.stdout.trim()
    if (!token || token === previous || refreshGrants(ctx) !== grants + 1) {
      checksOk = false
      notes.push(`${which}: refresh not done as expected (token changed: ${token !== previous}, grants +${refreshGrants(ctx) - grants})`)
    }
    // cli-login's refresh is one request to the provider (metadata and key set cached beside the session).
    if (which === 'cli' && providerRequests(ctx) !== requests + 1) {
      checksOk = false
      notes.push(`cli: ${providerRequests(ctx) - requests} requests to the provider for one refresh`)
    }
    return exit.exitMs - exit.startMs
  }
  await one('cli')
  await one('base')
  for (let i = 0; i < RUNS.refresh; i++) {
    const order: Array<'cli' | 'base'> = i % 2 ? ['base', 'cli'] : ['cli', 'base']
    for (const which of order) samples[which].push(await one(which))
  }
  addFigure('4', { samples: samples.cli, baseline: samples.base, checksOk, notes })
}

/**
 * 5. 20 concurrent `cli-login token` on one expired session, against what this machine cannot go
 * below: 20 started at once on a fresh session (no refresh at all) plus what one refresh adds to one
 * call (one refreshing `token` − one cached `token`). All four measured in the same rounds.
 */
async function figureConcurrent(ctx: Ctx): Promise<void> {
  console.error(`5. ${CONCURRENCY} concurrent token on an expired session`)
  const file = sessionPath(ctx, 'concurrent')
  const args = [BIN, 'token', '--profile', 'concurrent']
  const samples = { manyRefresh: [] as number[], manyFresh: [] as number[], singleRefresh: [] as number[], singleCached: [] as number[], nodeFloor: [] as number[] }
  const notes: string[] = []
  const roundProblems: string[] = []

  const startMany = async (command: string, commandArgs: string[]): Promise<{ wall: number; exits: Exit[] }> => {
    const t0 = nowMs()
    const exits = await Promise.all(Array.from({ length: CONCURRENCY }, () => start(command, commandArgs, ctx.env).done))
    return { wall: Math.max(...exits.map((e) => e.exitMs)) - t0, exits }
  }
  const runSingle = async (refresh: boolean): Promise<number> => {
    const previous = refresh ? await expire(file) : (await readSession(file)).accessToken
    const grants = refreshGrants(ctx)
    const exit = mustSucceed(`cli-login token (single, ${refresh ? 'refresh' : 'cached'})`, await start(NODE, args, ctx.env).done)
    const changed = exit.stdout.trim() !== previous
    if (changed !== refresh || refreshGrants(ctx) !== grants + (refresh ? 1 : 0)) roundProblems.push(`single ${refresh ? 'refresh' : 'cached'}: grants +${refreshGrants(ctx) - grants}`)
    return exit.exitMs - exit.startMs
  }
  const runMany = async (round: number, refresh: boolean): Promise<number> => {
    const previous = refresh ? await expire(file) : (await readSession(file)).accessToken
    const grants = refreshGrants(ctx)
    const { wall, exits } = await startMany(NODE, args)
    const what = `round ${round} (${refresh ? 'expired' : 'fresh'})`
    const failed = exits.filter((e) => e.code !== 0)
    const tokens = new Set(exits.map((e) => e.stdout.trim()))
    const grantDelta = refreshGrants(ctx) - grants
    if (failed.length) roundProblems.push(`${what}: ${failed.length} exited non-zero (${describeExit('first', failed[0])})`)
    if (tokens.size !== 1 || tokens.has('') || tokens.has(previous) !== !refresh) roundProblems.push(`${what}: ${tokens.size} distinct tokens`)
    if (grantDelta !== (refresh ? 1 : 0)) roundProblems.push(`${what}: provider counted ${grantDelta} refresh grants`)
    return wall
  }
  const runFloor = async (): Promise<number> => (await startMany(NODE, ['-e', '0'])).wall

  await runSingle(true) // warm-up
  const steps: Array<[keyof typeof samples, (round: number) => Promise<number>]> = [
    ['manyRefresh', (round) => runMany(round, true)],
    ['manyFresh', (round) => runMany(round, false)],
    ['singleRefresh', () => runSingle(true)],
    ['singleCached', () => runSingle(false)],
    ['nodeFloor', () => runFloor()],
  ]
  for (let round = 0; round < RUNS.concurrentRounds; round++) {
    // Rotated order, so that drift on the machine hits every kind alike.
    for (let k = 0; k < steps.length; k++) {
      const [kind, run] = steps[(k + round) % steps.length]
      samples[kind].push(await run(round))
    }
  }
  const floor = samples.manyFresh.map((fresh, i) => fresh + (samples.singleRefresh[i] - samples.singleCached[i]))
  if (roundProblems.length) notes.push(...roundProblems)
  else notes.push(`every round: all ${CONCURRENCY} exited 0 with one token (a new one when expired); the provider counted exactly 1 refresh grant per expired round`)
  addFigure('5', { samples: samples.manyRefresh, baseline: floor, checksOk: roundProblems.length === 0, notes })
  addFigure('5b', { samples: samples.manyFresh })
  addFigure('5c', { samples: samples.singleRefresh, baseline: samples.singleCached })
  addFigure('5d', { samples: samples.nodeFloor })
}

interface NpmTree { dependencies?: Record<string, NpmTree> }

/** Packages whose presence means an identity provider came along (the test kit's business, never the product's). */
const PROVIDER_PACKAGES = ['oidc-provider', 'koa', 'clilogin-testkit']

/**
 * 6. What a user of an embedding tool downloads: the packed cli-login (`npm pack`, as published)
 * installed with `npm install <tarball>` into an empty app; packages and MiB of its node_modules.
 */
async function figureFootprint(): Promise<void> {
  console.error('6. consumer footprint (npm install of the packed tarball into an empty app)')
  const app = await mkdtemp(join(tmpdir(), 'cli-login-footprint-'))
  const npm = (args: string[], cwd: string): string => {
    const result = spawnSync('npm', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 240_000 })
    if (result.error) throw result.error
    if (!result.stdout.trim()) throw new Error(`npm ${args.join(' ')} printed nothing: ${result.stderr.slice(0, 300)}`)
    return result.stdout // npm ls exits 1 on extraneous/invalid packages but still lists them
  }
  try {
    const pack = (JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', app], ROOT)) as Array<{ filename: string; size: number; unpackedSize: number; entryCount: number }>)[0]
    await writeFile(join(app, 'package.json'), '{ "name": "footprint", "private": true }\n')
    npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', '--json', join(app, pack.filename)], app)
    const installed = npm(['ls', '--all', '--parseable'], app).trim().split('\n').filter((path) => path.includes('node_modules'))
    const names = installed.map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length))
    const bytesOf = (path: string) => Number(spawnSync('du', ['-sb', path], { encoding: 'utf8' }).stdout.split('\t')[0]) || 0
    // The OS keychain binding (a native module, one package per platform) is counted apart, as
    // issue 9's targets say: it is what keychain storage costs, not what the rest does.
    const isKeychainBinding = (name: string) => name.startsWith('@napi-rs/keyring')
    const keychainPackages = names.filter(isKeychainBinding)
    const keychainMib = keychainPackages.reduce((sum, name) => sum + bytesOf(join(app, 'node_modules', name)), 0) / 1024 / 1024
    const mib = bytesOf(join(app, 'node_modules')) / 1024 / 1024 - keychainMib
    const counted = names.filter((name) => !isKeychainBinding(name))
    // Which dependency of cli-login brings how many packages (one reachable from several counts for each).
    const tree = JSON.parse(npm(['ls', '--all', '--json'], app)) as NpmTree
    const reach = (node: NpmTree, seen: Set<string>) => {
      for (const [name, child] of Object.entries(node.dependencies ?? {})) {
        if (seen.has(name)) continue
        seen.add(name)
        reach(child, seen)
      }
    }
    const perDep: Record<string, number> = {}
    for (const [name, child] of Object.entries(tree.dependencies?.['clilogin']?.dependencies ?? {})) {
      const seen = new Set<string>([name])
      reach(child, seen)
      perDep[name] = seen.size
    }
    const providers = names.filter((name) => PROVIDER_PACKAGES.includes(name))
    addFigure('6a', {
      samples: [counted.length],
      checksOk: providers.length === 0,
      notes: [
        providers.length === 0 ? 'no identity provider installed' : `identity provider installed: ${providers.join(', ')}`,
        `packages reachable from each dependency of cli-login: ${Object.entries(perDep).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      ],
      extra: { packages: names, perDependency: perDep },
    })
    addFigure('6b', { samples: [mib] })
    addFigure('6d', { samples: [keychainMib], notes: [`${keychainPackages.length} packages: ${keychainPackages.join(', ')}`], extra: { packages: keychainPackages } })
    addFigure('6c', {
      samples: [pack.size / 1000],
      notes: [`${pack.entryCount} files, ${(pack.unpackedSize / 1000).toFixed(1)} kB unpacked`],
      extra: { bytes: pack.size, unpackedBytes: pack.unpackedSize, entryCount: pack.entryCount },
    })
  } finally {
    await rm(app, { recursive: true, force: true })
  }
}

/**
 * 7. `cli-login token` with a valid cached token whose secrets are in the OS keychain (a real
 * gnome-keyring on a private D-Bus, test/helpers/secret-service.ts) vs `node -e 0`, with the same
 * command on file storage measured in the same interleaved runs for context.
 */
async function figureTokenKeychain(ctx: Ctx): Promise<void> {
  console.error('7. cli-login token, cached token, keychain storage')
  const { isSecretServiceInstalled, startSecretService } = await import('../test/helpers/secret-service.ts')
  if (!isSecretServiceInstalled()) {
    skipFigures(['7a', '7b'], 'gnome-keyring, dbus or secret-tool not installed (scripts/ci/install-secret-service.sh)')
    return
  }
  const keyring = await startSecretService()
  try {
    const env = { ...ctx.env, ...keyring.env, CLI_LOGIN_STORAGE: 'keychain' }
    await timedLogin(ctx, 'cli-login', { profile: 'keychain', env })
    // The refresh token in the keychain (secret-tool finds it), the current access token cached in the 0600 file.
    const stored = await readSession(sessionPath(ctx, 'keychain'))
    if (stored.storage !== 'keychain' || 'refreshToken' in stored || typeof stored.accessToken !== 'string') throw new Error('the keychain login did not keep its refresh token in the keychain and its access token cached in the file')
    const secrets = spawnSync('secret-tool', ['lookup', 'service', 'cli-login', 'username', 'keychain/secrets'], { env: { PATH: process.env.PATH, ...keyring.env }, encoding: 'utf8' }).stdout
    if (!secrets || typeof (JSON.parse(secrets) as { refreshToken?: unknown }).refreshToken !== 'string') throw new Error('secret-tool finds no refresh token in the keychain')
    const expected = stored.accessToken
    if (!existsSync(sessionPath(ctx, 'token'))) await loginProfile(ctx, 'token')
    const commands = {
      keychain: { args: [BIN, 'token', '--profile', 'keychain'], env },
      file: { args: [BIN, 'token', '--profile', 'token'], env: ctx.env },
      node: { args: ['-e', '0'], env },
    }
    const names = Object.keys(commands) as Array<keyof typeof commands>
    const wall: Record<string, number[]> = { keychain: [], file: [], node: [] }
    for (let i = -3; i < RUNS.tokenCached; i++) {
      const order = names.map((_, k) => names[(k + i + 3) % names.length])
      for (const name of order) {
        const { ms, result } = timeSync(commands[name].args, commands[name].env)
        if (result.status !== 0) throw new Error(describeExit(name, { code: result.status, signal: result.signal, stderr: result.stderr }))
        if (name === 'keychain' && result.stdout.trim() !== expected) throw new Error('token (keychain) did not print the token cached beside the keychain')
        if (i >= 0) wall[name].push(ms)
      }
    }
    addFigure('7a', {
      samples: wall.keychain,
      baseline: wall.node,
      notes: ['the refresh token in the keychain, the access token cached in the 0600 file: one file read, no binding loaded (with --keychain-access-token, one Secret Service item over D-Bus: see README "What the keychain costs")'],
    })
    addFigure('7b', { samples: wall.file, baseline: wall.node })
  } finally {
    await keyring.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/**
 * 10. DPoP and PAR: getAccessToken() + proof against a bare ES256 signature (in process); `token
 * --format dpop` cached against `node -e 0`; a DPoP login and a PAR login against a bearer login,
 * all on a provider that offers PAR and binds the DPoP client's tokens.
 */
async function figureDpop(ctx: Ctx): Promise<void> {
  console.error('10. DPoP and PAR')
  const provider = await startDemoProvider({ par: true, clients: [{ clientId: 'bench-dpop', dpop: true }, { clientId: 'bench-bearer' }] })
  try {
    const c = { ...ctx, provider }
    const target = (client: string, ...flags: string[]) => ['--issuer', provider.issuer, '--client-id', client, ...flags]
    const kinds = {
      bearer: () => timedLogin(c, 'cli-login', { profile: 'bench-bearer', target: target('bench-bearer', '--dpop', 'off', '--par', 'off') }),
      dpop: () => timedLogin(c, 'cli-login', { profile: 'bench-dpop', target: target('bench-dpop', '--dpop', 'on', '--par', 'off') }),
      par: () => timedLogin(c, 'cli-login', { profile: 'bench-par', target: target('bench-bearer', '--dpop', 'off', '--par', 'on') }),
    }
    type Kind = keyof typeof kinds
    const names = Object.keys(kinds) as Kind[]
    for (const name of names) await kinds[name]()
    const pushes = provider.stats.pushedAuthorizationRequests.length
    const t: Record<Kind, number[]> = { bearer: [], dpop: [], par: [] }
    let dpopSessions = 0
    for (let i = 0; i < RUNS.login; i++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + i) % names.length]
        t[name].push((await kinds[name]()).toolOnlyMs)
        if (name === 'dpop' && (await readSession(sessionPath(ctx, 'bench-dpop'))).tokenType === 'DPoP') dpopSessions++
      }
    }
    const pushed = provider.stats.pushedAuthorizationRequests.length - pushes
    addFigure('10c', { samples: t.dpop, baseline: t.bearer, checksOk: dpopSessions === RUNS.login, notes: dpopSessions === RUNS.login ? [] : [`${RUNS.login - dpopSessions} DPoP logins stored no DPoP session`] })
    addFigure('10d', { samples: t.par, baseline: t.bearer, checksOk: pushed === RUNS.login, notes: pushed === RUNS.login ? [] : [`expected ${RUNS.login} pushed requests, the provider counted ${pushed}`] })

    // 10b: the fast path signs the proof of a cached DPoP session.
    const url = 'https://api.example/v1/things'
    const commands = { token: [BIN, 'token', '--format', 'dpop', '--method', 'GET', '--url', url, '--profile', 'bench-dpop'], node: ['-e', '0'] }
    const wall: Record<keyof typeof commands, number[]> = { token: [], node: [] }
    for (let i = -3; i < RUNS.tokenCached; i++) {
      const order: Array<keyof typeof commands> = i % 2 ? ['token', 'node'] : ['node', 'token']
      for (const name of order) {
        const { ms, result } = timeSync(commands[name], ctx.env)
        if (result.status !== 0) throw new Error(describeExit(name, { code: result.status, signal: result.signal, stderr: result.stderr }))
        if (name === 'token' && !/^Authorization: DPoP \S+\nDPoP: \S+\n$/.test(result.stdout)) throw new Error(`token --format dpop printed ${JSON.stringify(result.stdout.slice(0, 80))}`)
        if (i >= 0) wall[name].push(ms)
      }
    }
    addFigure('10b', { samples: wall.token, baseline: wall.node })

    // 10a: in process, getAccessToken() + proof against the bare signature of the same bytes.
    const { CliLogin } = (await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)) as typeof Library
    const auth = new CliLogin({ appName: 'cli-login', home: ctx.cliHome, profile: 'bench-dpop', system: { env: {} } })
    const first = await auth.getAccessToken()
    if (!first.proof) throw new Error('getAccessToken() of the DPoP session has no proof()')
    const sample = await first.proof({ method: 'GET', url })
    const signingInput = Buffer.from(sample.slice(0, sample.lastIndexOf('.')))
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
    const loops = {
      proof: async () => {
        const token = await auth.getAccessToken()
        await token.proof!({ method: 'GET', url })
      },
      sign: async () => {
        await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, signingInput)
      },
    }
    const batch = async (work: () => Promise<void>, durationMs: number): Promise<number> => {
      let calls = 0
      const t0 = nowMs()
      let elapsed = 0
      while (elapsed < durationMs) {
        for (let k = 0; k < 50; k++) await work()
        calls += 50
        elapsed = nowMs() - t0
      }
      return (calls / elapsed) * 1000
    }
    await batch(loops.proof, 300)
    await batch(loops.sign, 300)
    const rate: Record<'proof' | 'sign', number[]> = { proof: [], sign: [] }
    for (let i = 0; i < RUNS.library; i++) {
      for (const name of (i % 2 ? ['sign', 'proof'] : ['proof', 'sign']) as Array<'proof' | 'sign'>) rate[name].push(await batch(loops[name], 200))
    }
    addFigure('10a', { samples: rate.proof, baseline: rate.sign })
  } finally {
    await provider.close()
  }
}

async function loginProfile(ctx: Ctx, profile: string): Promise<void> {
  await timedLogin(ctx, 'cli-login', { profile })
  if (!existsSync(sessionPath(ctx, profile))) throw new Error(`login of profile ${profile} stored no session`)
}

/** A local resource in a process of its own (the bench's spawnSync would block one in this process). */
async function startLocalResource(): Promise<{ url: string; body: string; stop: () => void }> {
  const port = await findFreePortRange(1)
  const body = '{"ok":true,"items":[1,2,3]}'
  const script = `require('node:http').createServer((q, s) => { s.writeHead(q.headers.authorization ? 200 : 401, { 'content-type': 'application/json' }); s.end(${JSON.stringify(body)}) }).listen(${port}, '127.0.0.1', () => process.stdout.write('up\\n'))`
  const child = spawn(NODE, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  running.add(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the local resource exited ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}/items`, body, stop: () => (child.kill(), running.delete(child)) }
}

/** 9. `cli-login fetch` (cached) against curl with `$(cli-login token)`; auth.fetch() against a static header. */
async function figureFetch(ctx: Ctx): Promise<void> {
  console.error('9. fetch, cached token')
  const resource = await startLocalResource()
  try {
    const origin = new URL(resource.url).origin
    const fetchArgs = [BIN, 'fetch', '--profile', 'token', '--allow-origin', origin, resource.url]
    const curl = ['sh', ['-c', `curl -s -H "Authorization: Bearer $("${NODE}" "${BIN}" token --profile token)" "${resource.url}"`]] as const
    const runCurl = () => {
      const t0 = process.hrtime.bigint()
      const result = spawnSync(curl[0], curl[1], { env: ctx.env, cwd: ROOT, encoding: 'utf8', timeout: CHILD_TIMEOUT_MS })
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result }
    }
    const check = (name: string, result: SpawnSyncReturns<string>) => {
      if (result.status !== 0 || result.stdout !== resource.body) throw new Error(`${name}: exit ${result.status}, printed ${JSON.stringify(result.stdout.slice(0, 80))}: ${result.stderr.slice(0, 200)}`)
    }
    const samples = { fetch: [] as number[], curl: [] as number[] }
    for (let i = 0; i < 3; i++) {
      check('cli-login fetch', timeSync(fetchArgs, ctx.env).result)
      check('curl', runCurl().result)
    }
    for (let i = 0; i < RUNS.tokenCached; i++) {
      const order = i % 2 === 0 ? (['fetch', 'curl'] as const) : (['curl', 'fetch'] as const)
      for (const name of order) {
        const { ms, result } = name === 'fetch' ? timeSync(fetchArgs, ctx.env) : runCurl()
        check(name, result)
        samples[name].push(ms)
      }
    }
    addFigure('9a', { samples: samples.fetch, baseline: samples.curl })

    const entry = join(ROOT, 'dist', 'index.js')
    const { CliLogin } = (await import(pathToFileURL(entry).href)) as typeof Library
    const auth = new CliLogin({ appName: 'cli-login', home: ctx.cliHome, profile: 'token', allowOrigins: [origin], system: { env: {} } })
    const { access_token } = await auth.getAccessToken()
    const ways = {
      library: () => auth.fetch(resource.url),
      static: () => fetch(resource.url, { headers: { authorization: `Bearer ${access_token}` } }),
    }
    const batch = async (send: () => Promise<Response>, durationMs: number): Promise<number> => {
      let calls = 0
      const t0 = nowMs()
      while (nowMs() - t0 < durationMs) {
        const response = await send()
        if ((await response.text()) !== resource.body) throw new Error('the local resource answered something else')
        calls++
      }
      return (calls / (nowMs() - t0)) * 1000
    }
    await batch(ways.library, 300)
    await batch(ways.static, 300)
    const rates = { library: [] as number[], static: [] as number[] }
    for (let i = 0; i < RUNS.library; i++) {
      rates.library.push(await batch(ways.library, 200))
      rates.static.push(await batch(ways.static, 200))
    }
    addFigure('9b', { samples: rates.library, baseline: rates.static })
  } finally {
    resource.stop()
  }
}

/** README.md's Performance table from this run (every declared figure; the unmeasured ones say why), and bench/README.md's figure list. */
async function writeReadmes(runLine: string): Promise<void> {
  const readme = join(ROOT, 'README.md')
  const table = `${runLine}\n\n${resultsTable(figures, skipped)}`
  await writeFile(readme, replaceBetweenMarkers(await readFile(readme, 'utf8'), README_TABLE_MARKERS, table))
  const benchReadme = join(ROOT, 'bench', 'README.md')
  await writeFile(benchReadme, replaceBetweenMarkers(await readFile(benchReadme, 'utf8'), FIGURE_LIST_MARKERS, figureList()))
  console.log(`written: the table in ${readme}, the figure list in ${benchReadme}`)
}

async function main(): Promise<void> {
  // `npm run bench -- 4 5` runs only figures 4 and 5 (default: all); `--write-readme` (a whole run
  // only) writes the table into README.md and the figure list into bench/README.md.
  const args = process.argv.slice(2)
  const writeReadme = args.includes('--write-readme')
  const only = new Set(args.filter((arg) => arg !== '--write-readme').map(Number))
  const usage = `usage: npm run bench [-- <figure ${GROUPS[0]}-${GROUPS[GROUPS.length - 1]}>... | --write-readme]`
  if ([...only].some((n) => !GROUPS.includes(n))) throw new UsageError(usage)
  if (writeReadme && only.size > 0) throw new UsageError(`--write-readme writes one whole run's table: run it without figure numbers (${usage})`)
  for (const file of [BIN, join(ROOT, 'dist', 'cli.cjs'), join(ROOT, 'dist', 'index.js')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`)
  }
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time (GNU time) is needed for peak RSS')
  const began = nowMs()
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-bench-'))
  let provider: DemoProvider | undefined
  let ci: CiTokenService | undefined
  const onSignal = () => {
    killAll()
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    ci = await startCiTokenService()
    provider = await startDemoProvider({ clients: [{ clientId: FEDERATED_CLIENT_ID }], trustedAssertionIssuers: [ci] })
    const env = cleanEnv(dir)
    const ctx: Ctx = { dir, provider, ci, env, cliHome: env.CLI_LOGIN_HOME!, browserScript: await writeBrowserScript(dir), runs: { count: 0 } }
    const loadBefore = loadavg()[0]
    console.error(`provider ${provider.issuer}; temp ${dir}; node ${process.version}; ${cpus().length} CPUs; load ${loadBefore.toFixed(2)}`)
    const wanted = (n: number) => only.size === 0 || only.has(n)
    const profiles = { token: wanted(1) || wanted(2) || wanted(9), refresh: wanted(4), 'refresh-baseline': wanted(4), concurrent: wanted(5) }
    for (const [profile, needed] of Object.entries(profiles)) if (needed) await loginProfile(ctx, profile)
    if (wanted(1)) await timedFederatedLogin(ctx, 'federated')

    if (wanted(1)) await figureTokenCached(ctx)
    if (wanted(2)) await figureLibrary(ctx)
    if (wanted(3)) await figureLogin(ctx)
    if (wanted(4)) await figureRefresh(ctx)
    if (wanted(5)) await figureConcurrent(ctx)
    if (wanted(6)) await figureFootprint()
    if (wanted(7)) await figureTokenKeychain(ctx)
    if (wanted(8)) await figureZeroConfiguration(ctx)
    if (wanted(9)) await figureFetch(ctx)
    if (wanted(10)) await figureDpop(ctx)

    const totalS = (nowMs() - began) / 1000
    const notes = notesOf(figures)
    console.log([resultsTable(figures), ...(notes.length ? ['', 'notes:', ...notes] : [])].join('\n'))
    const loadAfter = loadavg()[0]
    const machine = `node ${process.version}; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}`
    const load = `load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`
    console.log(`\n${totalS.toFixed(0)} s; ${machine}; ${load} (other work on the machine makes every figure noisier)`)
    if (writeReadme) await writeReadmes(`One run of \`npm run bench\`, ${new Date().toISOString().slice(0, 10)}: ${totalS.toFixed(0)} s; ${machine}; ${load}.`)
    const failing = figures.filter((f) => f.pass === false).map((f) => f.id)
    await writeFile(
      RESULTS,
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: [loadBefore, loadavg()[0]], durationS: totalS, failing, figures }, null, 2)}\n`,
    )
    console.log(`results: ${RESULTS}${failing.length ? `; failing: ${failing.join(', ')}` : '; every target met'}`)
  } finally {
    killAll()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await provider?.close().catch(() => {})
    await ci?.close().catch(() => {})
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? error.message : `bench crashed: ${(error as Error)?.stack ?? String(error)}${(error as Error)?.cause ? `\ncause: ${String((error as Error).cause)}` : ""}`)
  killAll()
  process.exitCode = 1
})
