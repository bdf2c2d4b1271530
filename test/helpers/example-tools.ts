/** The embedding tools in examples/, run as their users would: a child process per command. */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { CliResult } from './cli.ts'

export const MYTOOL = fileURLToPath(new URL('../../examples/mytool/mytool.js', import.meta.url))
export const ACME = fileURLToPath(new URL('../../examples/acme-ts/acme.ts', import.meta.url))

export interface RunningTool {
  /** The first stderr line that is a URL alone on its line (the authorization URL, or the device page). */
  url: Promise<string>
  result: Promise<CliResult>
}

/** Starts an example tool (a .ts one through tsx) with these arguments and environment. */
export function startTool(tool: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): RunningTool {
  const node = tool.endsWith('.ts') ? ['--import', 'tsx', tool] : [tool]
  const child = spawn(process.execPath, [...node, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: fileURLToPath(new URL('../..', import.meta.url)) })
  let stdout = ''
  let stderr = ''
  let resolveUrl!: (url: string) => void
  const url = new Promise<string>((resolve) => (resolveUrl = resolve))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += `${line}\n`
    const found = /(?:^|\s)(https?:\/\/\S+)/.exec(line)?.[1]
    if (found) resolveUrl(found)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const result = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { url, result }
}

export function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return startTool(tool, args, env).result
}
