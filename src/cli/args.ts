import { parseArgs } from 'node:util'
import { UsageError } from '../errors.ts'

type Kind = 'string' | 'boolean' | 'integer' | 'number'

/** One flag: how it parses, and the line `--help` shows for it (help is generated from these). */
export interface OptionSpec {
  kind: Kind
  choices?: readonly string[]
  /** The value's placeholder in help, e.g. `<url>`. */
  value?: string
  help: string
}

const COMMON = {
  profile: { kind: 'string', value: '<name>', help: 'which stored session (default "default")' },
  home: { kind: 'string', value: '<dir>', help: 'where sessions live (default ~/.config/cli-login)' },
} as const satisfies Record<string, OptionSpec>

const STORAGE = {
  storage: { kind: 'string', choices: ['auto', 'keychain', 'file'], value: '<where>', help: 'where the secrets go: auto (default: the OS keychain if usable), keychain, or file' },
} as const satisfies Record<string, OptionSpec>

const REDIRECT = {
  port: { kind: 'integer', value: '<n>', help: 'first loopback port to try (default 4242)' },
  'port-attempts': { kind: 'integer', value: '<n>', help: 'how many ports to try (default 50)' },
  'redirect-host': { kind: 'string', choices: ['127.0.0.1', 'localhost'], value: '<host>', help: '127.0.0.1 (default) or localhost' },
  'redirect-path': { kind: 'string', value: '<path>', help: 'default /callback' },
} as const satisfies Record<string, OptionSpec>

const BROWSER_LOGIN = {
  audience: { kind: 'string', value: '<api>', help: 'Auth0 API identifier to get an access token for' },
  scope: { kind: 'string', value: '<list>', help: 'default "openid profile email offline_access"' },
  prompt: { kind: 'string', value: '<value>', help: 'e.g. login (pick another account) or consent' },
  timeout: { kind: 'number', value: '<seconds>', help: 'give up waiting for the browser (default 300)' },
  'no-browser': { kind: 'boolean', help: 'print the URL instead of opening a browser' },
  device: { kind: 'boolean', help: 'device authorization flow (enter a code on any device)' },
} as const satisfies Record<string, OptionSpec>

const LOGIN = {
  issuer: { kind: 'string', value: '<url>', help: 'the provider (discovery at <url>/.well-known/openid-configuration)' },
  domain: { kind: 'string', value: '<host>', help: 'Auth0 shorthand: tenant.eu.auth0.com is issuer https://tenant.eu.auth0.com/' },
  'client-id': { kind: 'string', value: '<id>', help: "the application's client id (without it: dynamic client registration, where the server offers it)" },
  'client-secret': { kind: 'string', value: '<secret>', help: 'only for providers that demand one (better: CLI_LOGIN_CLIENT_SECRET)' },
  organization: { kind: 'string', value: '<id>', help: 'Auth0 organization' },
  resource: { kind: 'string', value: '<url>', help: 'the API (e.g. an MCP server) to log in to: without --issuer, where to log in is found from its URL (RFC 9728); sent as resource (RFC 8707)' },
  'authorization-endpoint': { kind: 'string', value: '<url>', help: 'for a server without metadata: its authorization endpoint (with --token-endpoint and --client-id)' },
  'token-endpoint': { kind: 'string', value: '<url>', help: 'for a server without metadata: its token endpoint (its origin is the issuer)' },
  'device-authorization-endpoint': { kind: 'string', value: '<url>', help: 'for a server without metadata: its device authorization endpoint, if any' },
  'revocation-endpoint': { kind: 'string', value: '<url>', help: 'for a server without metadata: its revocation endpoint, if any' },
  ...BROWSER_LOGIN,
  ...REDIRECT,
  ...STORAGE,
  ...COMMON,
} as const satisfies Record<string, OptionSpec>

export interface CommandSpec {
  summary: string
  /** A positional argument, e.g. the shell of `completion`. */
  positional?: { name: string; choices: readonly string[] }
  options: Record<string, OptionSpec>
}

export const COMMAND_SPECS = {
  login: { summary: 'log in through the browser and store the session', options: LOGIN },
  token: {
    summary: 'print a valid access token (refreshing it when needed)',
    options: {
      'min-ttl': { kind: 'number', value: '<seconds>', help: 'refresh when fewer seconds are left (default 60)' },
      'force-refresh': { kind: 'boolean', help: 'refresh even when the token is fresh' },
      format: { kind: 'string', choices: ['raw', 'json', 'header', 'k8s'], value: '<format>', help: 'raw (default), json, header, or k8s (a kubectl ExecCredential)' },
      'token-type': { kind: 'string', choices: ['access', 'id'], value: '<type>', help: 'access (default) or id (the ID token, e.g. for Kubernetes)' },
      audience: { kind: 'string', value: '<api>', help: 'a token for another API, from the same login' },
      resource: { kind: 'string', value: '<uri>', help: 'a token for another resource (RFC 8707), from the same login' },
      scope: { kind: 'string', value: '<list>', help: 'a token with a narrower scope, from the same login' },
      ...STORAGE,
      ...COMMON,
    },
  },
  status: { summary: 'who is logged in (--json for scripts)', options: { json: { kind: 'boolean', help: 'one JSON document on stdout' }, ...STORAGE, ...COMMON } },
  logout: {
    summary: 'revoke and delete the stored session (--all, --browser)',
    options: {
      all: { kind: 'boolean', help: 'every profile' },
      browser: { kind: 'boolean', help: "also end the provider's session in the browser" },
      'no-browser': { kind: 'boolean', help: 'never start a browser' },
      ...STORAGE,
      ...COMMON,
    },
  },
  'callback-urls': {
    summary: 'the redirect URIs to register with the provider',
    options: {
      format: { kind: 'string', choices: ['lines', 'auth0'], value: '<format>', help: 'lines (default) or auth0 (joined with ",")' },
      ...REDIRECT,
      ...COMMON,
    },
  },
  demo: { summary: 'log in against an embedded identity provider, no account needed', options: { ...BROWSER_LOGIN, ...REDIRECT, ...STORAGE, ...COMMON } },
  completion: {
    summary: 'print a shell completion script (bash, zsh or fish)',
    positional: { name: 'shell', choices: ['bash', 'zsh', 'fish'] },
    options: {},
  },
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof COMMAND_SPECS
export const COMMANDS = Object.keys(COMMAND_SPECS) as CommandName[]

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
export function parseCommandArgs(
  command: CommandName,
  args: string[],
  env: NodeJS.ProcessEnv,
): { help: boolean; options: ParsedOptions; positional?: string } {
  const spec: CommandSpec = COMMAND_SPECS[command]
  const specs = spec.options
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: spec.positional !== undefined,
      options: {
        ...Object.fromEntries(Object.entries(specs).map(([name, option]) => [name, { type: option.kind === 'boolean' ? 'boolean' : 'string' }])),
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
  for (const [name, option] of Object.entries(specs)) {
    const flag = parsed.values[name]
    if (flag !== undefined) {
      options[name] = typeof flag === 'boolean' ? flag : convert(String(flag), option, `--${name}`)
      continue
    }
    if (issuerFlag && (name === 'issuer' || name === 'domain')) continue
    const fromEnv = env[envVarFor(name)]
    if (fromEnv !== undefined && fromEnv !== '') {
      options[name] = option.kind === 'boolean' ? parseBoolean(fromEnv, envVarFor(name)) : convert(fromEnv, option, envVarFor(name))
    }
  }
  return { help: false, options, positional: spec.positional ? positionalOf(spec.positional, parsed.positionals) : undefined }
}

function positionalOf(positional: NonNullable<CommandSpec['positional']>, given: string[]): string {
  if (given.length !== 1) throw new UsageError(`expected one ${positional.name} (${positional.choices.join(', ')})`)
  if (!positional.choices.includes(given[0])) {
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
