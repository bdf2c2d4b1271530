/**
 * Opens a URL in the user's browser (PRODUCT.md "Browser"): `BROWSER` when set, else the platform's
 * opener (the `open` package, loaded only on that path), except where no browser can reach the user
 * (SSH, Linux without a display). Whatever the browser command prints never reaches our stdout or
 * stderr: its stdio is ignored. Never throws: failures are results, so the caller prints the URL and
 * keeps waiting.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { UsageError } from '../errors.ts'
import { headlessReason, type HeadlessReason } from './headless.ts'
import { nodeRequire } from '../node-require.ts'

export type BrowserOpenResult =
  /** `command`: what was started, without the URL (the BROWSER value, or the platform opener's executable). */
  | { opened: true; command: string }
  | { opened: false; reason: 'disabled' | HeadlessReason | 'failed'; detail?: string }

export interface BrowserOpenerOptions {
  env: NodeJS.ProcessEnv
  platform: NodeJS.Platform
  /** --no-browser */
  disabled?: boolean
  /** Secret values (the client secret): an environment variable holding one is not passed to the browser. */
  secrets?: string[]
  /**
   * Starts the platform's opener for `url` and resolves with its child once spawned (rejects when it
   * could not start). Default: the `open` package, `open(url, { wait: false })`. A seam for tests.
   */
  platformOpener?: (url: string) => Promise<ChildProcess>
}

export type OpenBrowser = (url: string) => Promise<BrowserOpenResult>

export function createBrowserOpener(options: BrowserOpenerOptions): OpenBrowser {
  return async (url: string): Promise<BrowserOpenResult> => {
    if (options.disabled === true) return { opened: false, reason: 'disabled' }
    if (!isWebUrl(url)) return { opened: false, reason: 'failed', detail: 'not an http(s) URL' }

    const browser = options.env.BROWSER
    if (browser !== undefined && browser.trim() !== '') {
      return runBrowserCommand(browser.trim(), url, options)
    }

    const headless = headlessReason(options.env, options.platform)
    if (headless !== undefined) return { opened: false, reason: headless }

    return runPlatformOpener(url, options.platformOpener ?? openWithOpenPackage)
  }
}

/** Child processes get no secret, neither in their arguments nor in their environment. */
export function withoutSecrets(env: NodeJS.ProcessEnv, secrets: string[] = []): NodeJS.ProcessEnv {
  const kept = secrets.filter((secret) => secret.length > 0)
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value === undefined || !kept.some((secret) => value.includes(secret))))
}

function isWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url)
    return protocol === 'https:' || protocol === 'http:'
  } catch {
    return false
  }
}

/** `BROWSER` split into words, the URL appended as one more argument: no shell ever sees the URL. */
async function runBrowserCommand(command: string, url: string, options: BrowserOpenerOptions): Promise<BrowserOpenResult> {
  let words: string[]
  try {
    // On Windows a backslash is a path separator, not an escape.
    words = splitCommandLine(command, { backslashEscapes: options.platform !== 'win32' })
  } catch (error) {
    return failed(error)
  }
  const [program, ...args] = words
  let child: ChildProcess
  try {
    child = spawn(program, [...args, url], {
      detached: true,
      stdio: 'ignore',
      env: withoutSecrets(options.env, options.secrets),
      windowsHide: true,
    })
  } catch (error) {
    return failed(error)
  }
  const error = await spawnOutcome(child)
  if (error !== undefined) return failed(error)
  child.unref()
  return { opened: true, command }
}

/** Resolves with undefined once the child has started, or with the error that kept it from starting. */
function spawnOutcome(child: ChildProcess): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const onSpawn = (): void => {
      child.off('error', onError)
      // Later errors (e.g. from kill) must not crash the process: we no longer care about the child.
      child.on('error', () => {})
      resolve(undefined)
    }
    const onError = (error: Error): void => {
      child.off('spawn', onSpawn)
      resolve(error)
    }
    child.once('spawn', onSpawn)
    child.once('error', onError)
  })
}

async function openWithOpenPackage(url: string): Promise<ChildProcess> {
  // require() of this ES module (Node >= 20.19), the same in the CLI bundle, which has no import().
  const { default: open } = nodeRequire()('open') as typeof import('open')
  return open(url, { wait: false })
}

async function runPlatformOpener(
  url: string,
  opener: (url: string) => Promise<ChildProcess>,
): Promise<BrowserOpenResult> {
  let child: ChildProcess
  try {
    child = await opener(url)
  } catch (error) {
    return failed(error)
  }
  child.on('error', () => {})
  // `open` ignores stdio on Linux and Windows but pipes it on macOS: close its stdin and drain
  // whatever it prints, so nothing reaches our stdout and the child never blocks on a full pipe.
  child.stdin?.destroy()
  child.stdout?.resume()
  child.stderr?.resume()
  child.unref()
  return { opened: true, command: child.spawnfile }
}

function failed(error: unknown): BrowserOpenResult {
  const detail = error instanceof Error ? error.message : String(error)
  return { opened: false, reason: 'failed', detail }
}

export interface SplitCommandLineOptions {
  /** Whether `\` escapes (as in a POSIX shell). Default true; false keeps every `\` as is (Windows paths). */
  backslashEscapes?: boolean
}

/**
 * Splits a command line into words the way a POSIX shell does, without any expansion: blanks
 * (space, tab, newline) separate words; '…' is literal; "…" is literal except that `\` escapes
 * `$`, `` ` ``, `"`, `\` and newline; outside quotes `\` escapes the next character (`\` + newline
 * joins lines; a trailing `\` stays). Quotes glue to adjacent text (`a'b c'` is one word) and `''` is
 * an empty word. Throws UsageError on an unterminated quote.
 */
export function splitCommandLine(command: string, options: SplitCommandLineOptions = {}): string[] {
  const escapes = options.backslashEscapes ?? true
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  const n = command.length

  while (i < n) {
    const ch = command[i]
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
      continue
    }
    if (escapes && ch === '\\' && command[i + 1] === '\n') {
      i += 2
      continue
    }
    inWord = true
    if (ch === "'") {
      const end = command.indexOf("'", i + 1)
      if (end < 0) throw new UsageError(`unterminated single quote in command line: ${command}`)
      word += command.slice(i + 1, end)
      i = end + 1
    } else if (ch === '"') {
      i++
      let terminated = false
      while (i < n) {
        const c = command[i]
        if (c === '"') {
          terminated = true
          i++
          break
        }
        if (escapes && c === '\\' && i + 1 < n && '$`"\\\n'.includes(command[i + 1])) {
          if (command[i + 1] !== '\n') word += command[i + 1]
          i += 2
          continue
        }
        word += c
        i++
      }
      if (!terminated) throw new UsageError(`unterminated double quote in command line: ${command}`)
    } else if (escapes && ch === '\\') {
      if (i + 1 < n) {
        word += command[i + 1]
        i += 2
      } else {
        word += ch
        i++
      }
    } else {
      word += ch
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}
