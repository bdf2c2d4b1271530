/**
 * The options of `cli-login token` and the groups it shares with other commands, apart from the
 * other commands' specs (args.ts): the token fast path (token-fast.ts) loads only these.
 */
import type { CommandSpec, OptionSpec } from './option-parser.ts'

export const COMMON = {
  profile: { kind: 'string', feeds: 'profile', value: '<name>', help: 'which stored session (default "default")' },
  home: { kind: 'string', feeds: 'home', value: '<dir>', help: 'where sessions live (default ~/.config/cli-login)' },
} as const satisfies Record<string, OptionSpec>

export const STORAGE = {
  storage: { kind: 'string', feeds: 'storage', choices: ['auto', 'keychain', 'file'], value: '<where>', help: 'where the secrets go: auto (default: the OS keychain if usable), keychain, or file' },
  'keychain-access-token': { kind: 'boolean', feeds: 'keychainAccessToken', help: 'with the keychain, keep the access and ID tokens there only (default: also cached in the 0600 session file)' },
} as const satisfies Record<string, OptionSpec>

export const TOKEN_SPEC = {
  summary: 'print a valid access token (refreshing it when needed)',
  options: {
    'min-ttl': { kind: 'number', feedsCall: 'minTtlS', value: '<seconds>', help: 'refresh when fewer seconds are left (default 60)' },
    'force-refresh': { kind: 'boolean', feedsCall: 'forceRefresh', help: 'refresh even when the token is fresh' },
    format: { kind: 'string', choices: ['raw', 'json', 'header', 'k8s', 'dpop'], value: '<format>', help: 'raw (default), json, header, k8s (a kubectl ExecCredential), or dpop (the Authorization and DPoP header lines for --method and --url)' },
    method: { kind: 'string', value: '<method>', help: 'with --format dpop: the HTTP method of the request the proof is for' },
    url: { kind: 'string', value: '<url>', help: 'with --format dpop: the URL of the request the proof is for' },
    'token-type': { kind: 'string', feedsCall: 'tokenType', choices: ['access', 'id'], value: '<type>', help: 'access (default) or id (the ID token, e.g. for Kubernetes)' },
    audience: { kind: 'string', feedsCall: 'audience', value: '<api>', help: 'a token for another API, from the same login' },
    resource: { kind: 'string', feedsCall: 'resource', value: '<uri>', help: 'a token for another resource (RFC 8707), from the same login' },
    scope: { kind: 'string', feedsCall: 'scope', value: '<list>', help: 'a token with a narrower scope, from the same login' },
    'client-id': { kind: 'string', feedsCall: 'clientId', value: '<id>', help: "with --resource of another authorization server that trusts the session's (enterprise-managed, ID-JAG): the client there", noEnv: true },
    ...STORAGE,
    ...COMMON,
  },
} as const satisfies CommandSpec
