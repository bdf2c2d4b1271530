/**
 * `npm run test:conformance`: every client `auth/*` scenario of the pinned official MCP conformance
 * suite (conformance/package.json) against examples/mcp-client/conformance-client.ts, an MCP
 * client whose OAuth is the library's. The suite's own CLI runs them, with the expected-failures
 * file, and its exit code decides (an unexpected failure or a stale entry is a failure).
 *
 * For speed, the suite's `auth`, `backcompat` and `extensions` suites run as one process each (their
 * scenarios in parallel inside it) and the 2026-07-28 scenarios, which no suite holds without
 * scenarios of other kinds, one process each, all at the same time; any auth scenario none of them
 * reported runs on its own afterwards, so a new one in the suite is never left out.
 *
 *   npm run test:conformance                        # all of them
 *   npm run test:conformance -- auth/iss-supported  # some of them, one process each, output in full
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SUITE_DIR = join(ROOT, 'conformance')
export const EXPECTED_FAILURES = join(SUITE_DIR, 'expected-failures.yaml')
const NODE_22 = join(SUITE_DIR, 'node_modules', 'node', 'bin', 'node')
const SUITE = join(SUITE_DIR, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js')
const CLIENT = join(ROOT, 'examples', 'mcp-client', 'conformance-client.ts')
/**
 * The client compiled once per run (esbuild, its imports left to node_modules): started 33 times, it
 * would otherwise spend more time in tsx than in its login. Beside this file, so that `clilogin`
 * resolves to this package (dist/) as it does for the example.
 */
const CLIENT_BUILT = join(ROOT, 'test', 'conformance', '.build', 'conformance-client.mjs')
/** The client runs on the project's Node (20), not the suite's. The suite splits the command on spaces. */
const CLIENT_COMMAND = `${process.execPath} ${CLIENT_BUILT}`
const SUITES = ['auth', 'backcompat', 'extensions']

export interface Scenario {
  name: string
  /** The revisions it applies to, as `conformance list` tags it: `2025-11-25,2026-07-28`, `extension`… */
  tags: string
}

interface Outcome {
  scenario: string
  /** passed | failed, as expected-failures.yaml says | … */
  verdict: string
  ok: boolean
  /** What to show when it is not ok: the failed checks and what the client printed. */
  detail?: string
}

function suite(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_22, [SUITE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

/** The client `auth/*` scenarios of the installed suite, as `conformance list` names and tags them. */
export async function authScenarios(): Promise<Scenario[]> {
  if (!existsSync(NODE_22) || !existsSync(SUITE)) {
    throw new Error('the conformance suite is not installed in conformance/: run npm install (or npm ci --prefix conformance)')
  }
  const { code, output } = await suite(['list'])
  if (code !== 0) throw new Error(`conformance list failed:\n${output}`)
  const clientSection = output.split(/^Client scenarios.*$/m)[1]?.split(/^\S.*$/m)[0] ?? ''
  return [...clientSection.matchAll(/^\s+- (auth\/\S+) \[([^\]]*)\]/gm)].map((m) => ({ name: m[1], tags: m[2] }))
}

/** One run of the suite's CLI (a suite, or one scenario), its results saved to a directory of its own. */
async function runSuite(selection: string[], results: string, { verbose = false } = {}): Promise<Outcome[]> {
  const output = await mkdtemp(join(results, 'run-'))
  const { code, output: printed } = await suite(['client', ...selection, '--command', CLIENT_COMMAND, '--expected-failures', EXPECTED_FAILURES, '--output-dir', output])
  if (verbose) console.log(`===== ${selection.join(' ')}\n${printed}`)
  const saved = await savedResults(output)
  const listed = (heading: RegExp) => {
    const section = printed.split(heading)[1]?.split(/\n\s*\n/)[0] ?? ''
    return new Set([...section.matchAll(/^\s+[~✓✗] (\S+)/gm)].map((m) => m[1]))
  }
  const expected = listed(/Expected failures \(in baseline\):.*\n/)
  const stale = listed(/Stale baseline entries.*\n/)
  const unexpected = listed(/Unexpected failures \(not in baseline\):.*\n/)
  const outcomes = [...saved.keys()].map((scenario): Outcome => {
    const result = saved.get(scenario) as SavedResult
    if (unexpected.has(scenario)) return { scenario, verdict: 'FAILED (not in expected-failures.yaml)', ok: false, detail: describe(result) }
    if (stale.has(scenario)) return { scenario, verdict: 'STALE: passes, but expected-failures.yaml lists it', ok: false }
    if (expected.has(scenario)) return { scenario, verdict: 'failed, as expected-failures.yaml says', ok: true }
    return { scenario, verdict: 'passed', ok: true }
  })
  // The suite's exit code decides: a failure it reports that no scenario above accounts for too.
  if (code !== 0 && outcomes.every((o) => o.ok)) outcomes.push({ scenario: selection.join(' '), verdict: `FAILED (the suite exited with ${code})`, ok: false, detail: printed })
  if (code === 0 && outcomes.some((o) => !o.ok)) throw new Error(`the suite passed ${selection.join(' ')} but its output says otherwise:\n${printed}`)
  return outcomes
}

interface SavedResult {
  checks: Array<{ id: string; status: string; description: string; errorMessage?: string }>
  stderr: string
}

/** `--output-dir` holds `<scenario>-<time>/checks.json` and the client's `stderr.txt` for each scenario run. */
async function savedResults(dir: string): Promise<Map<string, SavedResult>> {
  const results = new Map<string, SavedResult>()
  for (const entry of await readdir(dir, { recursive: true })) {
    if (!entry.endsWith('checks.json')) continue
    const runDir = join(dir, entry, '..')
    const scenario = entry.replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z[/\\]checks\.json$/, '').replace(/\\/g, '/')
    const checks = JSON.parse(await readFile(join(dir, entry), 'utf8')) as SavedResult['checks']
    results.set(scenario, { checks, stderr: await readFile(join(runDir, 'stderr.txt'), 'utf8').catch(() => '') })
  }
  return results
}

function describe(result: SavedResult): string {
  const failed = result.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
  const lines = failed.map((c) => `  ${c.status} ${c.id}: ${c.description}${c.errorMessage ? ` (${c.errorMessage})` : ''}`)
  return [...lines, ...(result.stderr.trim() ? ['  the client said:', ...result.stderr.trim().split('\n').map((l) => `    ${l}`)] : [])].join('\n')
}

async function buildClient(): Promise<void> {
  const { build } = await import('esbuild')
  await build({ entryPoints: [CLIENT], outfile: CLIENT_BUILT, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' })
}

async function main(): Promise<number> {
  const [all] = await Promise.all([authScenarios(), buildClient()])
  const names = all.map((s) => s.name)
  const asked = process.argv.slice(2)
  const unknown = asked.filter((name) => !names.includes(name))
  if (unknown.length > 0) throw new Error(`no such client auth scenario: ${unknown.join(', ')}`)
  const results = await mkdtemp(join(tmpdir(), 'mcp-conformance-'))
  const started = performance.now()
  let outcomes: Outcome[]
  try {
    const single = (name: string) => runSuite(['--scenario', name], results)
    if (asked.length > 0) {
      outcomes = (await Promise.all(asked.map((name) => runSuite(['--scenario', name], results, { verbose: true })))).flat()
    } else {
      console.log(`MCP conformance: ${all.length} client auth scenarios (suites ${SUITES.join(', ')}, and the 2026-07-28 ones one by one)`)
      const draftOnly = all.filter((s) => s.tags === '2026-07-28').map((s) => s.name)
      outcomes = (await Promise.all([...SUITES.map((name) => runSuite(['--suite', name], results)), ...draftOnly.map(single)])).flat()
      const left = names.filter((name) => !outcomes.some((o) => o.scenario === name))
      outcomes.push(...(await Promise.all(left.map(single))).flat())
    }
  } finally {
    await rm(results, { recursive: true, force: true })
  }
  const seconds = (performance.now() - started) / 1000
  outcomes.sort((a, b) => names.indexOf(a.scenario) - names.indexOf(b.scenario))
  const width = Math.max(...outcomes.map((o) => o.scenario.length))
  for (const o of outcomes) console.log(`${o.ok ? 'ok  ' : 'FAIL'} ${o.scenario.padEnd(width)}  ${o.verdict}${o.detail ? `\n${o.detail}` : ''}`)
  const passed = outcomes.filter((o) => o.verdict === 'passed').length
  const expected = outcomes.filter((o) => o.ok && o.verdict !== 'passed').length
  const failed = outcomes.filter((o) => !o.ok)
  console.log(`\n${passed} passed, ${expected} failed as expected-failures.yaml says, ${failed.length} not as expected; ${seconds.toFixed(1)} s`)
  if (failed.length > 0) console.log(`One scenario with the suite's whole output: npm run test:conformance -- ${failed[0].scenario}`)
  return failed.length === 0 ? 0 : 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error))
      process.exit(1)
    },
  )
}
