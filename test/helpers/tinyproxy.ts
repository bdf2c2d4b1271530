/**
 * A real HTTP proxy for tests: Debian's `tinyproxy`, in the foreground (`-d`), on a random loopback
 * port, with a minimal configuration and its log in a temporary directory of its own. With no
 * `ConnectPort` line tinyproxy allows CONNECT to any port, and nothing in the configuration keeps
 * it from reaching 127.0.0.1 upstream, so it can carry requests to a provider on loopback.
 * `log()` is how a test proves that a request went through the proxy (LogLevel Info logs the
 * request line of every request: `CONNECT 127.0.0.1:<port>` or `GET http://127.0.0.1:<port>/…`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findFreePortRange } from './ports.ts'

export interface Tinyproxy {
  port: number
  /** `http://127.0.0.1:<port>` */
  url: string
  /** The whole log so far. */
  log(): Promise<string>
  /** Log lines that are request lines naming 127.0.0.1:<targetPort>, from offset (a length of log() seen earlier) on. */
  requestsTo(targetPort: number, offset?: number): Promise<string[]>
  close(): Promise<void>
}

const START_ATTEMPTS = 5
const READY_TIMEOUT_MS = 5000

export async function startTinyproxy(): Promise<Tinyproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-tinyproxy-'))
  let lastError: unknown
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await findFreePortRange(1)
    try {
      return await startOn(dir, port)
    } catch (error) {
      // Most likely another process took the port between the probe and tinyproxy's bind.
      lastError = error
    }
  }
  await rm(dir, { recursive: true, force: true })
  throw new Error(`tinyproxy did not start: ${lastError instanceof Error ? lastError.message : String(lastError)}`)
}

async function startOn(dir: string, port: number): Promise<Tinyproxy> {
  const logFile = join(dir, `tinyproxy-${port}.log`)
  const configFile = join(dir, `tinyproxy-${port}.conf`)
  await writeFile(configFile, [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    `LogFile "${logFile}"`,
    'LogLevel Info',
    'MaxClients 50',
    'Allow 127.0.0.1',
    'DisableViaHeader Yes',
    '',
  ].join('\n'))
  const child = spawn('tinyproxy', ['-d', '-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(error.message))
    child.once('exit', (code, signal) => resolve(`exited (${code ?? signal}): ${stderr.trim()}`))
  })
  const started = Date.now()
  for (;;) {
    const state = await Promise.race([exited.then((why) => ({ why })), accepts(port).then((ok) => ({ ok }))])
    if ('why' in state) throw new Error(`tinyproxy on port ${port} ${state.why} ${await readFile(logFile, 'utf8').catch(() => '')}`)
    if (state.ok) break
    if (Date.now() - started > READY_TIMEOUT_MS) {
      await stop(child)
      throw new Error(`tinyproxy did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }

  const log = () => readFile(logFile, 'utf8').catch(() => '')
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    async requestsTo(targetPort: number, offset = 0) {
      const text = (await log()).slice(offset)
      const target = new RegExp(`(CONNECT|GET|POST|HEAD|PUT|DELETE) (https?://)?127\\.0\\.0\\.1:${targetPort}\\b`)
      return text.split('\n').filter((line) => target.test(line))
    },
    async close() {
      await stop(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
