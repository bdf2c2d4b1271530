/**
 * Command-line parsing by option specs (node:util parseArgs): flags, then CLI_LOGIN_* variables,
 * typed values, one-line usage errors. The specs themselves are in args.ts (token-options.ts for
 * `token`, whose fast path loads only what it parses).
 */
import { parseArgs } from 'node:util'
import { UsageError } from '../errors.ts'
import type { CliLoginOptions, GetAccessTokenOptions, LogoutOptions } from '../library-options.ts'

/** `switch`: `auto`, `on` or `off` (a bare flag is `on`), parsed to 'auto' | true | false. */
type Kind = 'string' | 'boolean' | 'integer' | 'number' | 'switch'

const SWITCH_VALUES = ['auto', 'on', 'off'] as const

/**
 * One flag: how it parses, the line `--help` shows for it (help and completion are generated from
 * these), and the library option it sets, if any: `feeds` an option of `new CliLogin({…})`,
 * `feedsCall` an option of the command's call (`getAccessToken({…})`, `logout({…})`). A flag with
 * neither is the command's own (e.g. --format, --json, --all).
 */
export interface OptionSpec {
  kind: Kind
  choices?: readonly string[]
  /** The value's placeholder in help, e.g. `<url>`. */
  value?: string
  help: string
  /** A one-letter alias, e.g. `X` for `-X` (not `h`: that is --help). */
  short?: string
  feeds?: keyof CliLoginOptions
  feedsCall?: keyof GetAccessTokenOptions | keyof LogoutOptions
  /** Only the flag sets it, never a CLI_LOGIN_* variable (e.g. `login --finish`'s address). */
  noEnv?: true
  /** Repeatable (`-H a -H b`): its value is the list, in order (a string flag; never from a variable). */
  multiple?: true
}

export interface CommandSpec {
  summary: string
  /** A positional argument, e.g. the shell of `completion` (any value when `choices` is absent). */
  positional?: { name: string; choices?: readonly string[] }
  options: Record<string, OptionSpec>
}

export type ParsedValue = string | number | boolean | string[]
export type ParsedOptions = Record<string, ParsedValue | undefined>

/** A flag's value type, from its spec: boolean, one of its `choices`, a number (integer, number) or a string. */
export type ValueOf<S extends OptionSpec> = S extends { multiple: true }
  ? string[]
  : S extends { kind: 'boolean' }
  ? boolean
  : S extends { kind: 'switch' }
    ? 'auto' | boolean
    : S extends { choices: readonly (infer C)[] }
    ? C
    : S extends { kind: 'integer' | 'number' }
      ? number
      : string

/** What a command's flags parse to (flags merged with CLI_LOGIN_* variables), typed by its specs. */
export type ParsedOf<O extends Record<string, OptionSpec>> = { -readonly [K in keyof O]?: ValueOf<O[K]> }

/** The library options a command's flags set through `field` (`feeds` or `feedsCall`), typed by its specs. */
export type FedBy<O extends Record<string, OptionSpec>, Field extends 'feeds' | 'feedsCall'> = {
  -readonly [K in keyof O as O[K] extends { [F in Field]: infer Name extends string } ? Name : never]?: ValueOf<O[K]>
}

/**
 * The one mapping from parsed flags to library options: each flag given (or set through its
 * CLI_LOGIN_* variable) sets the option its spec `feeds` (for `new CliLogin`) or `feedsCall` (for
 * the command's call). Flags not given set nothing.
 */
export function libraryOptionsOf<O extends Record<string, OptionSpec>>(specs: O, parsed: ParsedOf<O>): { options: FedBy<O, 'feeds'>; call: FedBy<O, 'feedsCall'> } {
  const options: Record<string, ParsedValue> = {}
  const call: Record<string, ParsedValue> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const value = (parsed as ParsedOptions)[name]
    if (value === undefined) continue
    if (spec.feeds) options[spec.feeds] = value
    if (spec.feedsCall) call[spec.feedsCall] = value
  }
  return { options, call } as { options: FedBy<O, 'feeds'>; call: FedBy<O, 'feedsCall'> }
}

/** The environment variable that stands for an option: --client-id → CLI_LOGIN_CLIENT_ID. */
export function envVarFor(option: string): string {
  return `CLI_LOGIN_${option.toUpperCase().replace(/-/g, '_')}`
}

/**
 * Parses arguments by a command's spec: flags beat CLI_LOGIN_* environment variables (the profile's memory
 * comes after both, in the library). Returns { help: true } for --help / -h. `tokens`: the flags
 * already split (plainTokens), else parseArgs splits them.
 */
export function parseSpecArgs<S extends CommandSpec>(spec: S, args: string[], env: NodeJS.ProcessEnv, tokens: Tokens = utilTokens(spec, args)): { help: boolean; options: ParsedOf<S['options']>; positional?: string } {
  const specs = spec.options
  if (tokens.values.help) return { help: true, options: {} }
  const options: ParsedOptions = {}
  // --issuer and --domain say the same thing: a flag for either one beats an env var for the other.
  const issuerFlag = tokens.values.issuer !== undefined || tokens.values.domain !== undefined
  for (const [name, option] of Object.entries(specs)) {
    const flag = tokens.values[name]
    if (flag !== undefined) {
      options[name] = Array.isArray(flag) ? flag.map((value) => String(convert(String(value), option, `--${name}`))) : typeof flag === 'boolean' ? flag : option.kind === 'switch' ? parseSwitch(String(flag), `--${name}`) : convert(String(flag), option, `--${name}`)
      continue
    }
    if (option.noEnv || option.multiple || (issuerFlag && (name === 'issuer' || name === 'domain'))) continue
    const fromEnv = env[envVarFor(name)]
    if (fromEnv !== undefined && fromEnv !== '') {
      const source = envVarFor(name)
      options[name] = option.kind === 'boolean' ? parseBoolean(fromEnv, source) : option.kind === 'switch' ? parseSwitch(fromEnv, source, true) : convert(fromEnv, option, source)
    }
  }
  return { help: false, options: options as ParsedOf<S['options']>, positional: spec.positional ? positionalOf(spec.positional, tokens.positionals) : undefined }
}

/** The flags as given, before the environment and the values' types: parseArgs's `values` and `positionals`. */
export interface Tokens {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** node:util parseArgs (strict) over the spec; its errors as one-line usage errors. */
function utilTokens(spec: CommandSpec, args: string[]): Tokens {
  try {
    const parsed = parseArgs({
      args: withSwitchValues(args, spec.options),
      strict: true,
      allowPositionals: spec.positional !== undefined,
      options: {
        ...Object.fromEntries(Object.entries(spec.options).map(([name, option]) => [name, { type: option.kind === 'boolean' ? 'boolean' : 'string', ...(option.short ? { short: option.short } : {}), ...(option.multiple ? { multiple: true } : {}) }])),
        help: { type: 'boolean', short: 'h' },
      },
    })
    return { values: parsed.values as Tokens['values'], positionals: parsed.positionals }
  } catch (error) {
    throw new UsageError(parseErrorMessage(error), { cause: error })
  }
}

/**
 * The plain forms only, `--name value`, `--name=value` and `--flag`, each flag once: what parseArgs
 * makes of them (test/unit/option-parser-fast.test.ts compares the two). Undefined for anything
 * else — short flags, help, a repeated or unknown flag, a value that starts with '-', `--`,
 * positionals — which the full parser handles. For `token`'s fast path: node:util compiles
 * parseArgs at its first call, a tenth of a cached `cli-login token`.
 */
export function plainTokens(spec: CommandSpec, args: string[]): Tokens | undefined {
  const values: Tokens['values'] = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (!arg.startsWith('--') || arg === '--') return undefined
    const equals = arg.indexOf('=')
    const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals)
    const option = Object.hasOwn(spec.options, name) ? spec.options[name] : undefined
    if (!option || option.short || option.multiple || values[name] !== undefined) return undefined
    if (option.kind === 'boolean') {
      if (equals !== -1) return undefined
      values[name] = true
    } else if (equals !== -1) {
      values[name] = arg.slice(equals + 1)
    } else {
      const value = args[++i]
      if (value === undefined || value.startsWith('-')) return undefined
      values[name] = value
    }
  }
  return { values, positionals: [] }
}

/** A bare `--dpop` (no auto/on/off after it) is `--dpop=on`: parseArgs knows no optional values. */
function withSwitchValues(args: string[], specs: Record<string, OptionSpec>): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') return [...out, ...args.slice(i)]
    const spec = arg.startsWith('--') && !arg.includes('=') ? specs[arg.slice(2)] : undefined
    if (spec?.kind === 'switch' && !(SWITCH_VALUES as readonly string[]).includes(args[i + 1] ?? '')) out.push(`${arg}=on`)
    else out.push(arg)
  }
  return out
}

function parseSwitch(raw: string, source: string, fromEnv = false): 'auto' | boolean {
  const value = raw.trim().toLowerCase()
  if (value === 'auto') return 'auto'
  if (value === 'on' || (fromEnv && ['1', 'true', 'yes'].includes(value))) return true
  if (value === 'off' || (fromEnv && ['0', 'false', 'no'].includes(value))) return false
  throw new UsageError(`${source} must be auto, on or off, not ${JSON.stringify(raw)}`)
}

function positionalOf(positional: NonNullable<CommandSpec['positional']>, given: string[]): string {
  if (given.length !== 1) throw new UsageError(`expected one ${positional.name}${positional.choices ? ` (${positional.choices.join(', ')})` : ''}`)
  if (positional.choices && !positional.choices.includes(given[0])) {
    throw new UsageError(`${positional.name} must be one of ${positional.choices.join(', ')}, not ${JSON.stringify(given[0])}`)
  }
  return given[0]
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
