/**
 * `npm run test:conformance`: every client `auth/*` scenario of the pinned official MCP conformance
 * suite (conformance/package.json) against examples/mcp-client/conformance-client.ts, an MCP
 * client whose OAuth is the library's. Each scenario is one run of the suite's own CLI with the
 * expected-failures file; the suite's exit code decides (an unexpected failure or a stale entry is
 * a failure). Scenarios run a few at a time; one table at the end.
 *
 *   npm run test:conformance                      # all of them
 *   npm run test:conformance -- auth/iss-supported  # some of them (their output in full)
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SUITE_DIR = join(ROOT, 'conformance')
export const EXPECTED_FAILURES = join(SUITE_DIR, 'expected-failures.yaml')
const NODE_22 = join(SUITE_DIR, 'node_modules', 'node', 'bin', 'node')
const SUITE = join(SUITE_DIR, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js')
const CLIENT = join(ROOT, 'examples', 'mcp-client', 'conformance-client.ts')
/** The client runs on the project's Node (20), not the suite's. The suite splits the command on spaces. */
const CLIENT_COMMAND = `${process.execPath} --import tsx ${CLIENT}`
/** Each scenario has two processes of its own and a few servers; more at once only makes them wait. */
const AT_ONCE = Math.max(4, availableParallelism() * 3)

interface Outcome {
  scenario: string
  code: number | null
  /** passed | failed as expected | … , from the suite's own summary. */
  verdict: string
  seconds: number
  output: string
}

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE_22, [SUITE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

/** The client `auth/*` scenarios of the installed suite, as `conformance list` names them. */
export async function authScenarios(): Promise<string[]> {
  assertInstalled()
  const { code, output } = await run(['list'])
  if (code !== 0) throw new Error(`conformance list failed:\n${output}`)
  const clientSection = output.split(/^Client scenarios.*$/m)[1]?.split(/^\S.*$/m)[0] ?? ''
  return [...clientSection.matchAll(/^\s+- (auth\/\S+)/gm)].map((m) => m[1])
}

function assertInstalled(): void {
  if (!existsSync(NODE_22) || !existsSync(SUITE)) {
    throw new Error('the conformance suite is not installed in conformance/: run npm install (or npm ci --prefix conformance)')
  }
}

async function runScenario(scenario: string): Promise<Outcome> {
  const started = performance.now()
  const { code, output } = await run(['client', '--scenario', scenario, '--command', CLIENT_COMMAND, '--expected-failures', EXPECTED_FAILURES])
  const seconds = (performance.now() - started) / 1000
  return { scenario, code, verdict: verdictOf(code, output), seconds, output }
}

function verdictOf(code: number | null, output: string): string {
  if (/Stale baseline entries/.test(output)) return 'STALE: passes, but expected-failures.yaml lists it'
  if (/Unexpected failures/.test(output)) return 'FAILED (not in expected-failures.yaml)'
  if (code !== 0) return `FAILED (exit ${code})`
  if (/Expected failures \(in baseline\)/.test(output)) return 'failed, as expected-failures.yaml says'
  return 'passed'
}

async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

async function main(): Promise<number> {
  const all = await authScenarios()
  const asked = process.argv.slice(2)
  const unknown = asked.filter((name) => !all.includes(name))
  if (unknown.length > 0) throw new Error(`no such client auth scenario: ${unknown.join(', ')}`)
  const scenarios = asked.length > 0 ? asked : all
  console.log(`MCP conformance: ${scenarios.length} client auth scenarios, ${AT_ONCE} at a time`)
  const started = performance.now()
  const outcomes = await inParallel(scenarios, AT_ONCE, runScenario)
  const seconds = (performance.now() - started) / 1000
  const failed = outcomes.filter((o) => o.code !== 0)
  for (const outcome of asked.length > 0 ? outcomes : failed) console.log(`\n===== ${outcome.scenario}\n${outcome.output}`)
  const width = Math.max(...outcomes.map((o) => o.scenario.length))
  console.log('')
  for (const o of outcomes) console.log(`${o.code === 0 ? 'ok  ' : 'FAIL'} ${o.scenario.padEnd(width)}  ${o.seconds.toFixed(1).padStart(5)} s  ${o.verdict}`)
  const passed = outcomes.filter((o) => o.verdict === 'passed').length
  const expected = outcomes.filter((o) => o.verdict.startsWith('failed, as expected')).length
  console.log(`\n${passed} passed, ${expected} failed as expected, ${failed.length} not as expected; ${seconds.toFixed(1)} s in all`)
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
