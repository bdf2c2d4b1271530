/**
 * The CLI's flags as library options: one mapping from the option specs (each names the library
 * option it feeds), and the flag-for-option table the CLI's messages use, derived from the same specs.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { COMMAND_SPECS, COMMANDS, FLAG_FOR_OPTION, libraryOptions, parseCommandArgs, type CommandSpec } from '../../src/cli/args.ts'
import { cliMessage } from '../../src/cli/messages.ts'
import { parseSpecArgs } from '../../src/cli/option-parser.ts'
import { ErrorCode, ProviderError, UsageError } from '../../src/errors.ts'

/** A valid value for a flag of this spec, as typed on the command line, and what it parses to. */
function sample(name: string, spec: CommandSpec['options'][string]): { args: string[]; value: unknown } {
  if (spec.kind === 'boolean') return { args: [`--${name}`], value: true }
  if (spec.kind === 'integer' || spec.kind === 'number') return { args: [`--${name}`, '7'], value: 7 }
  if (spec.kind === 'switch') return { args: [`--${name}`, 'off'], value: false }
  const value = spec.choices ? spec.choices[spec.choices.length - 1] : `value-of-${name}`
  // A repeatable flag (fetch -H, --allow-origin) parses to the list of its values.
  return { args: [`--${name}`, value], value: spec.multiple ? [value] : value }
}

for (const command of COMMANDS) {
  test(`${command}: every flag that feeds a library option sets it, through the one mapping`, () => {
    const { options: specs, positional } = COMMAND_SPECS[command] as CommandSpec
    // A command with a positional argument (completion's shell, use's profile) needs one to parse.
    const argument = positional ? [positional.choices?.[0] ?? 'work'] : []
    for (const [name, spec] of Object.entries(specs)) {
      const { args, value } = sample(name, spec)
      const { options, call } = libraryOptions(command, parseCommandArgs(command, [...args, ...argument], {}).options)
      assert.deepEqual(options, spec.feeds ? { [spec.feeds]: value } : {}, `--${name}`)
      assert.deepEqual(call, spec.feedsCall ? { [spec.feedsCall]: value } : {}, `--${name}`)
    }
  })
}

test('login: flags and CLI_LOGIN_* variables become typed CliLoginOptions; flags not given set nothing', () => {
  const args = ['--issuer', 'https://id.example/', '--client-id', 'abc', '--port', '5000', '--redirect-host', 'localhost', '--timeout', '9.5', '--no-browser']
  const env = { CLI_LOGIN_SCOPE: 'openid email', CLI_LOGIN_STORAGE: 'file', CLI_LOGIN_PORT: '6000' }
  const { options, call } = libraryOptions('login', parseCommandArgs('login', args, env).options)
  assert.deepEqual(options, {
    issuer: 'https://id.example/',
    clientId: 'abc',
    port: 5000,
    redirectHost: 'localhost',
    timeoutS: 9.5,
    noBrowser: true,
    scope: 'openid email',
    storage: 'file',
  })
  assert.deepEqual(call, {})
})

test("token: --min-ttl, --token-type and the target flags feed getAccessToken's options, --profile the instance's, --format neither", () => {
  const args = ['--min-ttl', '120', '--token-type', 'id', '--audience', 'https://api/', '--profile', 'work', '--format', 'json', '--force-refresh']
  const { options, call } = libraryOptions('token', parseCommandArgs('token', args, {}).options)
  assert.deepEqual(options, { profile: 'work' })
  assert.deepEqual(call, { minTtlS: 120, tokenType: 'id', audience: 'https://api/', forceRefresh: true })
})

test("logout: --browser feeds the call's endBrowserSession, --no-browser the instance's noBrowser, --all neither", () => {
  const { options, call } = libraryOptions('logout', parseCommandArgs('logout', ['--browser', '--no-browser', '--all'], {}).options)
  assert.deepEqual(options, { noBrowser: true })
  assert.deepEqual(call, { endBrowserSession: true })
})

test('one flag per library option, across all commands', () => {
  const seen = new Map<string, string>()
  for (const command of COMMANDS) {
    for (const [flag, spec] of Object.entries((COMMAND_SPECS[command] as CommandSpec).options)) {
      for (const option of [spec.feeds, spec.feedsCall]) {
        if (option === undefined) continue
        assert.equal(seen.get(option) ?? flag, flag, `${option} is fed by --${seen.get(option)} and --${flag}`)
        seen.set(option, flag)
      }
    }
  }
  assert.deepEqual(new Map([...FLAG_FOR_OPTION].sort()), new Map([...seen].sort()))
})

/** Options the library names in its usage errors (UsageError.forOption, validateServerUrl), read from src. */
function usageErrorOptions(): Set<string> {
  const found = new Set<string>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (path.endsWith('.ts') && !path.includes('/cli/')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/(?:UsageError\.forOption|validateServerUrl)\('([A-Za-z]+)'/g)) found.add(match[1])
      }
    }
  }
  walk(join(import.meta.dirname, '../../src'))
  return found
}

test('every option the library can name in a usage error has a flag in the derived table', () => {
  // Set by the CLI itself, never from a flag: its app name (cli-app.ts); it never passes a client metadata URL.
  const notFlags = new Set(['appName', 'clientMetadataUrl'])
  const options = usageErrorOptions()
  assert.ok(options.size >= 15, `found only ${[...options].join(', ')}`)
  for (const option of options) {
    if (notFlags.has(option)) continue
    assert.ok(FLAG_FOR_OPTION.has(option), `UsageError for "${option}" has no flag in FLAG_FOR_OPTION`)
  }
})

test("the CLI says the library's usage errors with its flag names, from the derived table", () => {
  assert.equal(cliMessage(UsageError.forOption('tokenType', '"id" cannot be combined with another audience, resource or scope')), '--token-type "id" cannot be combined with another audience, resource or scope')
  assert.equal(cliMessage(UsageError.forOption('timeoutS', 'must be a number of seconds from 0.001 to 2147483, not 0')), '--timeout must be a number of seconds from 0.001 to 2147483, not 0')
  assert.equal(cliMessage(UsageError.forOption('portAttempts', 'must be a whole number from 1 to 1, not 5')), '--port-attempts must be a whole number from 1 to 1, not 5')
})

test('a repeatable flag: every value in order, never from a CLI_LOGIN_* variable', () => {
  const parsed = parseCommandArgs('fetch', ['-H', 'A: 1', '--header', 'B: 2', 'https://x.example/'], { CLI_LOGIN_HEADER: 'C: 3', CLI_LOGIN_ALLOW_ORIGIN: 'https://y.example' })
  assert.deepEqual(parsed.options.header, ['A: 1', 'B: 2'])
  assert.equal(parsed.options['allow-origin'], undefined)
  assert.equal(parsed.positional, 'https://x.example/')
})

test('a spec with a short alias parses -X as --name (for flags such as fetch -X)', () => {
  const spec = { summary: 'a test command', options: { request: { kind: 'string', short: 'X', value: '<method>', help: 'the method' } } } as const satisfies CommandSpec
  assert.deepEqual(parseSpecArgs(spec, ['-X', 'POST'], {}).options, { request: 'POST' })
  assert.deepEqual(parseSpecArgs(spec, ['--request', 'PUT'], { CLI_LOGIN_REQUEST: 'GET' }).options, { request: 'PUT' })
})

test('--dpop and --par: auto, on or off; a bare flag is on (also before another flag or at the end); CLI_LOGIN_DPOP takes booleans too', () => {
  const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => libraryOptions('login', parseCommandArgs('login', args, env).options).options
  assert.deepEqual(parse(['--dpop']), { dpop: true })
  assert.deepEqual(parse(['--dpop', '--par', 'auto']), { dpop: true, par: 'auto' })
  assert.deepEqual(parse(['--dpop', 'off', '--par']), { dpop: false, par: true })
  assert.deepEqual(parse(['--dpop=on']), { dpop: true })
  assert.deepEqual(parse([], { CLI_LOGIN_DPOP: 'yes', CLI_LOGIN_PAR: 'off' }), { dpop: true, par: false })
  assert.deepEqual(parse(['--dpop', 'off'], { CLI_LOGIN_DPOP: 'on' }), { dpop: false })
  assert.throws(() => parse(['--dpop=maybe']), (error: unknown) => error instanceof UsageError && error.message === '--dpop must be auto, on or off, not "maybe"')
  assert.throws(() => parse([], { CLI_LOGIN_PAR: 'sometimes' }), (error: unknown) => error instanceof UsageError && error.message === 'CLI_LOGIN_PAR must be auto, on or off, not "sometimes"')
})

test('the CLI names --dpop off / --par off after the library\'s DPoP and PAR refusals', () => {
  const line = (error: string) => cliMessage(new ProviderError(ErrorCode.PROVIDER_ERROR, 'the server said no', { error }))
  assert.equal(line('dpop_unsupported'), 'the server said no (--dpop off)')
  assert.equal(line('dpop_not_bound'), 'the server said no (--dpop off)')
  assert.equal(line('par_unsupported'), 'the server said no (--par off)')
  assert.equal(line('invalid_request'), 'the server said no')
})
