import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const BIN = fileURLToPath(new URL('../../bin/cli-login.cjs', import.meta.url))

/**
 * An environment with nothing of the developer's: no BROWSER, no display, no proxy, a home of its
 * own, and file storage (never the developer's keychain; the keychain tests set their own).
 */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, CLI_LOGIN_HOME: join(home, 'cli-login'), CLI_LOGIN_STORAGE: 'file', LANG: 'C.UTF-8' }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

export async function makeTempHome(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-test-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000, cwd?: string): Promise<CliResult> {
  return startCli(args, env, timeoutMs, cwd).result
}

export interface RunningCli {
  child: ChildProcess
  /** Resolves with the first line of stderr that is a URL alone on its line (the authorization URL). */
  url: Promise<string>
  /** Every stderr line so far. */
  stderrLines: string[]
  result: Promise<CliResult>
}

export function startCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000, cwd?: string): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const stderrLines: string[] = []
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  let resolveUrl!: (url: string) => void
  let rejectUrl!: (error: Error) => void
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve
    rejectUrl = reject
  })
  url.catch(() => {})
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr += `${line}\n`
    stderrLines.push(line)
    if (/^https?:\/\/\S+$/.test(line)) resolveUrl(line)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      rejectUrl(new Error(`cli-login exited (${code ?? signal}) before printing a URL:\n${stderr}`))
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, url, stderrLines, result }
}

/** The last non-empty line, where the contract puts the one-line explanation of a failure. */
export function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n')
  return lines[lines.length - 1] ?? ''
}
