import type { CommandSpec, OptionSpec } from './option-parser.ts'
import { libraryOptionsOf, parseSpecArgs, type FedBy, type ParsedOf } from './option-parser.ts'
import { COMMON, STORAGE, TOKEN_SPEC } from './token-options.ts'
import { FETCH_SPEC, GIT_CREDENTIAL_SPEC } from './fetch-options.ts'

export { envVarFor, type CommandSpec, type OptionSpec, type ParsedOf, type ParsedOptions, type ParsedValue } from './option-parser.ts'

const REDIRECT = {
  port: { kind: 'integer', feeds: 'port', value: '<n>', help: 'first loopback port to try (default 4242)' },
  'port-attempts': { kind: 'integer', feeds: 'portAttempts', value: '<n>', help: 'how many ports to try (default 50)' },
  'redirect-host': { kind: 'string', feeds: 'redirectHost', choices: ['127.0.0.1', 'localhost'], value: '<host>', help: '127.0.0.1 (default) or localhost' },
  'redirect-path': { kind: 'string', feeds: 'redirectPath', value: '<path>', help: 'default /callback' },
} as const satisfies Record<string, OptionSpec>

const BROWSER_LOGIN = {
  audience: { kind: 'string', feeds: 'audience', value: '<api>', help: 'Auth0 API identifier to get an access token for' },
  scope: { kind: 'string', feeds: 'scope', value: '<list>', help: 'default "openid profile email offline_access"' },
  prompt: { kind: 'string', feeds: 'prompt', value: '<value>', help: 'e.g. login (pick another account) or consent' },
  timeout: { kind: 'number', feeds: 'timeoutS', value: '<seconds>', help: 'give up waiting for the browser (default 300)' },
  'no-browser': { kind: 'boolean', feeds: 'noBrowser', help: 'print the URL instead of opening a browser' },
  device: { kind: 'boolean', feeds: 'device', help: 'device authorization flow (enter a code on any device)' },
  qr: { kind: 'boolean', help: 'also show the URL to open as a QR code (the device flow\'s, or a short authorization URL)' },
  'login-hint': { kind: 'string', feeds: 'loginHint', value: '<email>', help: 'who should sign in (default on a new login: the profile\'s email)' },
  dpop: { kind: 'switch', feeds: 'dpop', choices: ['auto', 'on', 'off'], value: '[auto|on|off]', help: 'bind the tokens to a key of this login (DPoP, RFC 9449): auto (default: when the server or resource requires it), on, off' },
  par: { kind: 'switch', feeds: 'par', choices: ['auto', 'on', 'off'], value: '[auto|on|off]', help: 'push the authorization request to the server first (PAR, RFC 9126): auto (default: when the server requires or offers it), on, off' },
} as const satisfies Record<string, OptionSpec>

const LOGIN = {
  issuer: { kind: 'string', feeds: 'issuer', value: '<url>', help: 'the provider (discovery at <url>/.well-known/openid-configuration)' },
  domain: { kind: 'string', feeds: 'domain', value: '<host>', help: 'Auth0 shorthand: tenant.eu.auth0.com is issuer https://tenant.eu.auth0.com/' },
  'client-id': { kind: 'string', feeds: 'clientId', value: '<id>', help: "the application's client id (without it: dynamic client registration, where the server offers it)" },
  'client-secret': { kind: 'string', feeds: 'clientSecret', value: '<secret>', help: 'only for providers that demand one (better: CLI_LOGIN_CLIENT_SECRET)' },
  organization: { kind: 'string', feeds: 'organization', value: '<id>', help: 'Auth0 organization' },
  resource: { kind: 'string', feeds: 'resource', value: '<url>', help: 'the API (e.g. an MCP server) to log in to: without --issuer, where to log in is found from its URL (RFC 9728); sent as resource (RFC 8707)' },
  'authorization-endpoint': { kind: 'string', feeds: 'authorizationEndpoint', value: '<url>', help: 'for a server without metadata: its authorization endpoint (with --token-endpoint and --client-id)' },
  'token-endpoint': { kind: 'string', feeds: 'tokenEndpoint', value: '<url>', help: 'for a server without metadata: its token endpoint (its origin is the issuer)' },
  'device-authorization-endpoint': { kind: 'string', feeds: 'deviceAuthorizationEndpoint', value: '<url>', help: 'for a server without metadata: its device authorization endpoint, if any' },
  'revocation-endpoint': { kind: 'string', feeds: 'revocationEndpoint', value: '<url>', help: 'for a server without metadata: its revocation endpoint, if any' },
  ...BROWSER_LOGIN,
  'client-credentials': { kind: 'boolean', help: "no browser: the client's own token (client credentials grant) with --client-secret or --private-key" },
  'private-key': { kind: 'string', feeds: 'privateKey', value: '<file>', help: 'the client\'s private key (PEM or JWK) for private_key_jwt; copied into the session\'s secrets at login' },
  federated: { kind: 'string', feeds: 'federated', value: '<source>', help: "no browser, no secret: exchange the CI platform's OIDC token (github, gitlab:<VAR>, env:<VAR>, file:<path>)" },
  'federated-audience': { kind: 'string', feeds: 'federatedAudience', value: '<aud>', help: "the audience of GitHub Actions' token (default: the authorization server's issuer)" },
  'federated-grant': { kind: 'string', feeds: 'grant', choices: ['jwt-bearer', 'token-exchange'], value: '<grant>', help: 'jwt-bearer or token-exchange (default: as the server\'s metadata lists)' },
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
  fetch: FETCH_SPEC,
  'git-credential': GIT_CREDENTIAL_SPEC,
  status: { summary: 'who is logged in (--json for scripts)', options: { json: { kind: 'boolean', help: 'one JSON document on stdout' }, ...STORAGE, ...COMMON } },
  logout: {
    summary: 'revoke and delete the stored session (--all, --browser)',
    options: {
      all: { kind: 'boolean', help: 'every profile' },
      browser: { kind: 'boolean', feedsCall: 'endBrowserSession', help: "also end the provider's session in the browser" },
      'no-browser': { kind: 'boolean', feeds: 'noBrowser', help: 'never start a browser' },
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


type OptionsOf<C extends CommandName> = (typeof COMMAND_SPECS)[C]['options']

/** A command's parsed flags (merged with CLI_LOGIN_* variables), typed by its specs. */
export type CommandOptions<C extends CommandName> = ParsedOf<OptionsOf<C>>

/**
 * Parses a command's arguments: flags beat CLI_LOGIN_* environment variables (the profile's memory
 * comes after both, in the library). Returns { help: true } for --help / -h.
 */
export function parseCommandArgs<C extends CommandName>(command: C, args: string[], env: NodeJS.ProcessEnv): { help: boolean; options: CommandOptions<C>; positional?: string } {
  return parseSpecArgs<CommandSpec & { options: OptionsOf<C> }>(COMMAND_SPECS[command], args, env)
}

/**
 * A command's flags as the library options they feed: `options` for `new CliLogin`, `call` for the
 * command's call (getAccessToken, logout). The commands add only what is theirs (callbacks, seams).
 */
export function libraryOptions<C extends CommandName>(command: C, parsed: CommandOptions<C>): { options: FedBy<OptionsOf<C>, 'feeds'>; call: FedBy<OptionsOf<C>, 'feedsCall'> } {
  return libraryOptionsOf<OptionsOf<C>>(COMMAND_SPECS[command].options, parsed)
}

/** Library option → the flag that sets it, from the specs (the CLI names its flags in the library's usage errors). */
export const FLAG_FOR_OPTION: ReadonlyMap<string, string> = new Map(
  COMMANDS.flatMap((command) =>
    Object.entries((COMMAND_SPECS[command] as CommandSpec).options).flatMap(([flag, spec]) =>
      [spec.feeds, spec.feedsCall].filter((option) => option !== undefined).map((option) => [option, flag] as const),
    ),
  ),
)
