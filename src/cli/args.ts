import type { CommandSpec, OptionSpec } from './option-parser.ts'
import { parseSpecArgs, type ParsedOptions } from './option-parser.ts'
import { COMMON, STORAGE, TOKEN_SPEC } from './token-options.ts'

export { bool, envVarFor, num, str, type CommandSpec, type OptionSpec, type ParsedOptions, type ParsedValue } from './option-parser.ts'

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
  qr: { kind: 'boolean', help: 'also show the URL to open as a QR code (the device flow\'s, or a short authorization URL)' },
  'login-hint': { kind: 'string', value: '<email>', help: 'who should sign in (default on a new login: the profile\'s email)' },
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
  'no-wait': { kind: 'boolean', help: 'print the URL on stdout and exit: finish later with --finish (--json for scripts)' },
  finish: { kind: 'string', value: '<url>', help: 'finish the pending login with the address the browser ended on', noEnv: true },
  json: { kind: 'boolean', help: 'with --no-wait: {"url","login_id","expires_at"} on stdout' },
  ...REDIRECT,
  ...STORAGE,
  ...COMMON,
} as const satisfies Record<string, OptionSpec>

export const COMMAND_SPECS = {
  login: { summary: 'log in through the browser and store the session', options: LOGIN },
  token: TOKEN_SPEC,
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
  profiles: {
    summary: 'every profile with a session, and which is the default (--json for scripts)',
    options: { json: { kind: 'boolean', help: 'one JSON array of status --json objects, each with "default"' }, ...STORAGE, home: COMMON.home },
  },
  use: {
    summary: 'make a profile the default (kept in the home\'s config.json; --profile and CLI_LOGIN_PROFILE still win)',
    positional: { name: 'profile' },
    options: { home: COMMON.home },
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


/**
 * Parses a command's arguments: flags beat CLI_LOGIN_* environment variables (the profile's memory
 * comes after both, in the library). Returns { help: true } for --help / -h.
 */
export function parseCommandArgs(command: CommandName, args: string[], env: NodeJS.ProcessEnv): { help: boolean; options: ParsedOptions; positional?: string } {
  return parseSpecArgs(COMMAND_SPECS[command], args, env)
}
