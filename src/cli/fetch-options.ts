/**
 * The options of `cli-login fetch` and `cli-login git-credential`, apart from the other commands'
 * specs (args.ts): their cached paths (fetch-fast.ts) load only these. The request's own options
 * read no CLI_LOGIN_* variable (PRODUCT.md, "Authenticated requests").
 */
import type { CommandSpec } from './option-parser.ts'
import { COMMON, STORAGE } from './token-options.ts'

export const FETCH_SPEC = {
  summary: "send one request with the session's token (only to the origins it was made for), the body to stdout",
  positional: { name: 'url' },
  options: {
    method: { kind: 'string', short: 'X', value: '<method>', help: 'the request method (default GET; POST with --data)', noEnv: true },
    header: { kind: 'string', short: 'H', multiple: true, value: "'<name>: <value>'", help: 'a request header (repeatable)', noEnv: true },
    data: { kind: 'string', short: 'd', value: '<text|@file|@->', help: 'the request body: the text, a file\'s bytes (@file), or standard input (@-)', noEnv: true },
    include: { kind: 'boolean', short: 'i', help: 'the status line and the response headers on stdout before the body', noEnv: true },
    'allow-origin': { kind: 'string', multiple: true, feeds: 'allowOrigins', value: '<origin>', help: "also send the token to this origin (repeatable; default: only the session's resource and https audience)", noEnv: true },
    ...STORAGE,
    ...COMMON,
  },
} as const satisfies CommandSpec

export const GIT_CREDENTIAL_SPEC = {
  summary: "a git credential helper: the session's token for its origins (git config credential.<url>.helper '!cli-login git-credential')",
  positional: { name: 'operation', choices: ['get', 'store', 'erase'] },
  options: {
    'allow-origin': FETCH_SPEC.options['allow-origin'],
    ...STORAGE,
    ...COMMON,
  },
} as const satisfies CommandSpec
