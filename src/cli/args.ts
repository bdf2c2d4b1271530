import { parseArgs } from 'node:util'
import { UsageError } from '../errors.ts'
import type { CommandName } from './usage.ts'

type Kind = 'string' | 'boolean' | 'integer' | 'number'

interface OptionSpec {
  kind: Kind
  choices?: readonly string[]
}

const COMMON = {
  profile: { kind: 'string' },
  home: { kind: 'string' },
} as const satisfies Record<string, OptionSpec>

const REDIRECT = {
  port: { kind: 'integer' },
  'port-attempts': { kind: 'integer' },
  'redirect-host': { kind: 'string', choices: ['127.0.0.1', 'localhost'] },
  'redirect-path': { kind: 'string' },
} as const satisfies Record<string, OptionSpec>

const LOGIN = {
  ...COMMON,
  ...REDIRECT,
  issuer: { kind: 'string' },
  domain: { kind: 'string' },
  'client-id': { kind: 'string' },
  'client-secret': { kind: 'string' },
  organization: { kind: 'string' },
  audience: { kind: 'string' },
  scope: { kind: 'string' },
  prompt: { kind: 'string' },
  timeout: { kind: 'number' },
  'no-browser': { kind: 'boolean' },
  device: { kind: 'boolean' },
} as const satisfies Record<string, OptionSpec>

export const COMMAND_OPTIONS = {
  login: LOGIN,
  token: {
    ...COMMON,
    'min-ttl': { kind: 'number' },
    'force-refresh': { kind: 'boolean' },
    format: { kind: 'string', choices: ['raw', 'json', 'header'] },
  },
  status: { ...COMMON, json: { kind: 'boolean' } },
  logout: { ...COMMON, all: { kind: 'boolean' }, browser: { kind: 'boolean' }, 'no-browser': { kind: 'boolean' } },
  'callback-urls': { ...COMMON, ...REDIRECT, format: { kind: 'string', choices: ['lines', 'auth0'] } },
  demo: {
    ...COMMON,
    ...REDIRECT,
    timeout: { kind: 'number' },
    'no-browser': { kind: 'boolean' },
    audience: { kind: 'string' },
    prompt: { kind: 'string' },
    scope: { kind: 'string' },
    device: { kind: 'boolean' },
  },
} as const satisfies Record<CommandName, Record<string, OptionSpec>>

export type ParsedValue = string | number | boolean
export type ParsedOptions = Record<string, ParsedValue | undefined>

/** The environment variable that stands for an option: --client-id → CLI_LOGIN_CLIENT_ID. */
export function envVarFor(option: string): string {
  return `CLI_LOGIN_${option.toUpperCase().replace(/-/g, '_')}`
}

/**
 * Parses a command's arguments: flags beat CLI_LOGIN_* environment variables (the profile's memory
 * comes after both, in the library). Returns { help: true } for --help / -h.
 */
export function parseCommandArgs(command: CommandName, args: string[], env: NodeJS.ProcessEnv): { help: boolean; options: ParsedOptions } {
  const specs: Record<string, OptionSpec> = COMMAND_OPTIONS[command]
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.kind === 'boolean' ? 'boolean' : 'string' }])),
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), { cause: error })
  }
  if (parsed.values.help) return { help: true, options: {} }
  const options: ParsedOptions = {}
  // --issuer and --domain say the same thing: a flag for either one beats an env var for the other.
  const issuerFlag = parsed.values.issuer !== undefined || parsed.values.domain !== undefined
  for (const [name, spec] of Object.entries(specs)) {
    const flag = parsed.values[name]
    if (flag !== undefined) {
      options[name] = typeof flag === 'boolean' ? flag : convert(String(flag), spec, `--${name}`)
      continue
    }
    if (issuerFlag && (name === 'issuer' || name === 'domain')) continue
    const fromEnv = env[envVarFor(name)]
    if (fromEnv !== undefined && fromEnv !== '') {
      options[name] = spec.kind === 'boolean' ? parseBoolean(fromEnv, envVarFor(name)) : convert(fromEnv, spec, envVarFor(name))
    }
  }
  return { help: false, options }
}

function convert(raw: string, spec: OptionSpec, source: string): ParsedValue {
  if (spec.choices && !spec.choices.includes(raw)) {
    throw new UsageError(`${source} must be one of ${spec.choices.join(', ')}, not ${JSON.stringify(raw)}`)
  }
  if (spec.kind === 'integer') {
    if (!/^\d+$/.test(raw)) throw new UsageError(`${source} must be a whole number, not ${JSON.stringify(raw)}`)
    return Number(raw)
  }
  if (spec.kind === 'number') {
    const value = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`${source} must be a number of seconds, not ${JSON.stringify(raw)}`)
    return value
  }
  if (spec.kind === 'string' && raw.trim() === '') throw new UsageError(`${source} must not be empty`)
  return raw
}

function parseBoolean(raw: string, source: string): boolean {
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes'].includes(value)) return true
  if (['0', 'false', 'no'].includes(value)) return false
  throw new UsageError(`${source} must be 1/true/yes or 0/false/no, not ${JSON.stringify(raw)}`)
}

function parseErrorMessage(error: unknown): string {
  const message = (error as Error).message ?? String(error)
  const unknown = /Unknown option '([^']+)'/.exec(message)
  if (unknown) return `unknown option ${unknown[1]}`
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message)
  if (missing) return `${missing[1].replace(/^-\w, /, '')} needs a value`
  const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message)
  if (ambiguous) return `${ambiguous[1]} needs a value (for a value that starts with '-', write ${ambiguous[1]}=<value>)`
  const noValue = /Option '([^']+)' does not take an argument/.exec(message)
  if (noValue) return `${noValue[1].replace(/^-\w, /, '')} takes no value`
  const positional = /Unexpected argument '([^']+)'/.exec(message)
  if (positional) return `unexpected argument ${JSON.stringify(positional[1])}`
  return message.split('\n')[0].replace(/\. To specify.*$/, '')
}

export function str(options: ParsedOptions, name: string): string | undefined {
  const value = options[name]
  return typeof value === 'string' ? value : undefined
}

export function num(options: ParsedOptions, name: string): number | undefined {
  const value = options[name]
  return typeof value === 'number' ? value : undefined
}

export function bool(options: ParsedOptions, name: string): boolean | undefined {
  const value = options[name]
  return typeof value === 'boolean' ? value : undefined
}
