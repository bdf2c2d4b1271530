import { causeChain, CliLoginError, LoginCancelledError, UsageError } from '../errors.ts'
import { defaultSystem, type System } from '../system.ts'
import { COMMANDS, parseCommandArgs, type CommandName, type CommandOptions } from './args.ts'
import { exitCodeFor, ExitCode } from './exit-codes.ts'
import type { CliContext } from './io.ts'
import { writeAllSync } from './write-sync.ts'
import { installLightFetchClasses } from '../net/light-fetch.ts'
import { cliMessage } from './messages.ts'
import { commandUsage, mainUsage, usageLine } from './usage.ts'
import { VERSION } from '../version.ts'
import { terminalLines } from '../terminal-text.ts'
import { isatty } from 'node:tty'
import type { PasteInput } from './paste-back.ts'

export interface MainIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** Standard input when it is a terminal; undefined (the default) when it is not. */
  terminalInput?: () => PasteInput | undefined
  /** All of standard input (default: none). */
  stdin?: () => Promise<Uint8Array>
  /** Bytes for stdout as they are (default: decoded as UTF-8 into `stdout`). */
  stdoutBytes?: (bytes: Uint8Array) => void
  /** What a cached path handed over. */
  handover?: Handover
}

type Runner<C extends CommandName> = (flags: CommandOptions<C>, ctx: CliContext, positional?: string) => Promise<number>

/** Each command's module is loaded only when it runs, so `token` never loads what `login` needs. */
const RUNNERS: { [C in CommandName]: () => Promise<Runner<C>> } = {
  login: async () => (await import('./commands/login.ts')).runLogin,
  token: async () => (await import('./commands/token.ts')).runToken,
  fetch: async () => (await import('./commands/fetch.ts')).runFetch,
  'git-credential': async () => (await import('./commands/git-credential.ts')).runGitCredential,
  status: async () => (await import('./commands/status.ts')).runStatus,
  logout: async () => (await import('./commands/logout.ts')).runLogout,
  profiles: async () => (await import('./commands/profiles.ts')).runProfiles,
  use: async () => (await import('./commands/profiles.ts')).runUse,
  'callback-urls': async () => (await import('./commands/callback-urls.ts')).runCallbackUrls,
  demo: async () => (await import('./commands/demo.ts')).runDemo,
  completion: async () => async (_flags, ctx, shell) => (await import('./commands/completion.ts')).runCompletion(shell ?? 'bash', ctx),
}

/**
 * Runs the CLI and returns the exit code. The only place that knows about argv, the process's
 * streams and signals; `run()` below is what bin/cli-login.cjs calls.
 */
export async function main(argv: string[], system: System = defaultSystem(), io: MainIo = processIo(), signal?: AbortSignal): Promise<number> {
  const debug = ['1', 'true', 'yes'].includes((system.env.CLI_LOGIN_DEBUG ?? '').toLowerCase())
  const ctx: CliContext = {
    // The last guard for strings from the provider or the callback: no control character reaches the terminal.
    out: (line) => io.stdout(`${terminalLines(line)}\n`),
    err: (line) => io.stderr(`${terminalLines(line)}\n`),
    system,
    signal: signal ?? new AbortController().signal,
    debug,
    terminalInput: () => io.terminalInput?.(),
    readStdin: () => io.stdin?.() ?? Promise.resolve(new Uint8Array()),
    handover: { refusedWith: io.handover?.refusedWith },
    writeOut: (bytes) => (io.stdoutBytes ? io.stdoutBytes(bytes) : io.stdout(new TextDecoder().decode(bytes))),
  }
  const [command, ...args] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    ctx[command === undefined ? 'err' : 'out'](mainUsage())
    return command === undefined ? ExitCode.USAGE : ExitCode.OK
  }
  if (command === '--version' || command === '-V') {
    ctx.out(VERSION)
    return ExitCode.OK
  }
  if (!isCommand(command)) {
    ctx.err(usageLine('main'))
    ctx.err(`cli-login: unknown command ${JSON.stringify(command)}: run cli-login --help`)
    return ExitCode.USAGE
  }
  try {
    return await runCommand(command, args, ctx)
  } catch (error) {
    reportError(error, command, ctx)
    return exitCodeFor(error)
  }
}

async function runCommand<C extends CommandName>(command: C, args: string[], ctx: CliContext): Promise<number> {
  const { help, options, positional } = parseCommandArgs(command, args, ctx.system.env)
  if (help) {
    ctx.out(commandUsage(command))
    return ExitCode.OK
  }
  const run: Runner<C> = await RUNNERS[command]()
  return run(options, ctx, positional)
}

function reportError(error: unknown, command: CommandName, ctx: CliContext): void {
  if (ctx.debug) ctx.err(debugDetail(error))
  if (error instanceof UsageError) ctx.err(usageLine(command))
  const message = error instanceof CliLoginError ? cliMessage(error) : `internal error: ${(error as Error)?.message ?? String(error)} (CLI_LOGIN_DEBUG=1 shows details)`
  ctx.err(`cli-login: ${message}`)
}

function debugDetail(error: unknown): string {
  return causeChain(error)
    .map((e, depth) => `${depth === 0 ? '' : 'caused by: '}${String((e as Error).stack ?? e)}`)
    .join('\n')
}

function isCommand(name: string): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name)
}

function processIo(handover: Handover = {}): MainIo {
  // process.stdin is created only when asked for, and only for a terminal.
  return {
    stdout: (text) => writeAllSync(1, text),
    stderr: (text) => writeAllSync(2, text),
    terminalInput: () => (isatty(0) ? process.stdin : undefined),
    stdin: () => (handover.stdin ? Promise.resolve(handover.stdin) : readAll(process.stdin)),
    stdoutBytes: (bytes) => writeAllSync(1, bytes),
    handover,
  }
}

/**
 * What a cached path (fetch-fast.ts) found before handing the command over: standard input (it
 * cannot be read twice) and the WWW-Authenticate the request was refused with.
 */
export interface Handover {
  stdin?: Uint8Array
  refusedWith?: string
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/**
 * Entry point for the bin: everything exits with main's code. Ctrl-C aborts a login in progress
 * (exit 130; a second Ctrl-C exits at once). For `token` and `logout`, Ctrl-C and SIGTERM end what
 * is being waited for, never a refresh under way: the process exits once its answer is stored (the
 * provider may have rotated the refresh token in it), with 130, or by SIGTERM again.
 */
export async function run(handover: Handover = {}): Promise<void> {
  installLightFetchClasses()
  const controller = new AbortController()
  const command = process.argv[2]
  const cancelled = new LoginCancelledError(command === 'login' || command === 'demo' ? 'login cancelled' : 'interrupted')
  let terminated = false
  const onSigint = () => {
    if (controller.signal.aborted && (command === 'login' || command === 'demo')) process.exit(ExitCode.INTERRUPTED)
    controller.abort(cancelled)
  }
  const onSigterm = () => {
    terminated = true
    controller.abort(cancelled)
  }
  if (command === 'login' || command === 'demo' || command === 'token' || command === 'logout' || command === 'fetch') process.on('SIGINT', onSigint)
  if (command === 'token' || command === 'logout' || command === 'fetch') process.on('SIGTERM', onSigterm)
  // The CLI reads the secret from its own copy; no child process (the platform's opener) inherits it.
  const env = { ...process.env }
  delete process.env.CLI_LOGIN_CLIENT_SECRET
  const code = await main(process.argv.slice(2), defaultSystem({ env }), processIo(handover), controller.signal)
  if (terminated) {
    process.off('SIGTERM', onSigterm)
    process.kill(process.pid, 'SIGTERM')
  }
  // Exit at once (all output was written synchronously): an idle keep-alive connection to the
  // provider must not keep the process waiting.
  process.exit(code)
}
