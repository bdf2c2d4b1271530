// What the OS keychain costs a short-lived CLI process on Linux: loading @napi-rs/keyring, and one
// read of an item over D-Bus from a real gnome-keyring on a private bus
// (test/helpers/secret-service.ts), against `node -e 0`. Medians of RUNS spawned processes (and of
// RUNS in-process reads). Run: node --import tsx bench/keychain-cost.mjs [runs]
// (tsx only to import the TypeScript fixture and probe; the measured children are plain node.)
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { startSecretService } from '../test/helpers/secret-service.ts'
import { nativeKeychain, probeKeychain } from '../src/session/keychain.ts'

const RUNS = Number(process.argv[2] ?? 20)
const require = createRequire(import.meta.url)
const modulePath = require.resolve('@napi-rs/keyring')

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function timeSpawn(args, env) {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`)
  return elapsed
}

/** Interleaved (a b c a b c …) so a machine that gets busier midway skews every row alike. */
function spawnMedians(commands, env) {
  const times = commands.map(() => [])
  for (let i = 0; i < RUNS + 2; i++) {
    commands.forEach((args, index) => {
      const ms = timeSpawn(args, env)
      if (i >= 2) times[index].push(ms) // the first two warm the page cache
    })
  }
  return times.map(median)
}

const service = await startSecretService()
try {
  // Only what a child needs: no NODE_OPTIONS (tsx) leaking into the measured processes.
  const env = { PATH: process.env.PATH, ...service.env }
  Object.assign(process.env, service.env)
  const keychain = nativeKeychain({ env })
  const token = `eyJhbGciOiJSUzI1NiJ9.${'p'.repeat(900)}.sig` // an access token that fits in one item
  await keychain.set('cli-login-bench', 'default/access_token', token)

  const get = `const { Entry } = require(${JSON.stringify(modulePath)});` +
    "new Entry('cli-login-bench', 'default/access_token', { linux: { store: 'secret-service' } }).getPassword()"
  const commands = [
    ['node -e 0', ['-e', '0']],
    ["node -e \"require('@napi-rs/keyring')\"", ['-e', `require(${JSON.stringify(modulePath)})`]],
    ['node -e "<require + one getPassword over D-Bus>"', ['-e', get]],
  ]
  const medians = spawnMedians(commands.map(([, args]) => args), env)
  const rows = commands.map(([label], index) => [label, medians[index]])

  // Inside a fresh process, timed by the process itself (less noisy than wall time on a busy machine).
  const split = `const t0 = performance.now(); const { Entry } = require(${JSON.stringify(modulePath)}); const t1 = performance.now();` +
    "new Entry('cli-login-bench', 'default/access_token', { linux: { store: 'secret-service' } }).getPassword();" +
    'process.stdout.write(JSON.stringify({ loadMs: t1 - t0, getMs: performance.now() - t1 }))'
  const inside = Array.from({ length: RUNS }, () => JSON.parse(spawnSync(process.execPath, ['-e', split], { env, encoding: 'utf8' }).stdout))

  // In one process, module already loaded: a fresh entry (connects to the bus) + one read.
  const inProcess = []
  for (let i = 0; i < RUNS + 2; i++) {
    const started = performance.now()
    await keychain.get('cli-login-bench', 'default/access_token')
    if (i >= 2) inProcess.push(performance.now() - started)
  }
  const probes = []
  for (let i = 0; i < Math.min(RUNS, 10); i++) {
    const started = performance.now()
    const result = await probeKeychain(keychain)
    if (!result.ok) throw new Error(`probe failed: ${result.reason}`)
    probes.push(performance.now() - started)
  }
  await keychain.delete('cli-login-bench', 'default/access_token')

  const base = rows[0][1]
  console.log(`keychain cost on ${process.platform}-${process.arch}, node ${process.version}, median of ${RUNS}`)
  for (const [label, ms] of rows) console.log(`${ms.toFixed(1).padStart(7)} ms  ${(ms / base).toFixed(2)}×  ${label}`)
  console.log(`${median(inside.map((t) => t.loadMs)).toFixed(2).padStart(7)} ms         require('@napi-rs/keyring'), timed inside a fresh process`)
  console.log(`${median(inside.map((t) => t.getMs)).toFixed(2).padStart(7)} ms         first Entry + getPassword (bus connect + Secret Service session + read), timed inside`)
  console.log(`${median(inProcess).toFixed(2).padStart(7)} ms         in-process keychain.get (connect + read, module loaded)`)
  console.log(`${median(probes).toFixed(1).padStart(7)} ms         probeKeychain(nativeKeychain()) — child process round trip`)
} finally {
  await service.stop()
}
