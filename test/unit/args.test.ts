import { test } from 'node:test'
import assert from 'node:assert/strict'
import { envVarFor, parseCommandArgs } from '../../src/cli/args.ts'
import { UsageError } from '../../src/errors.ts'

test('env var names follow CLI_LOGIN_<OPTION>', () => {
  assert.equal(envVarFor('client-id'), 'CLI_LOGIN_CLIENT_ID')
  assert.equal(envVarFor('no-browser'), 'CLI_LOGIN_NO_BROWSER')
  assert.equal(envVarFor('port-attempts'), 'CLI_LOGIN_PORT_ATTEMPTS')
})

const parses: Array<[string, Parameters<typeof parseCommandArgs>[0], string[], NodeJS.ProcessEnv, Record<string, unknown>]> = [
  ['flags', 'login', ['--issuer', 'https://a/', '--client-id', 'x', '--port', '5000'], {}, { issuer: 'https://a/', 'client-id': 'x', port: 5000 }],
  ['env fills what flags leave out', 'login', ['--client-id', 'x'], { CLI_LOGIN_ISSUER: 'https://env/', CLI_LOGIN_PORT: '6000' }, { issuer: 'https://env/', 'client-id': 'x', port: 6000 }],
  ['flag beats env', 'login', ['--client-id', 'flag'], { CLI_LOGIN_CLIENT_ID: 'env' }, { 'client-id': 'flag' }],
  ['boolean env 1/yes/true', 'login', [], { CLI_LOGIN_NO_BROWSER: 'yes', CLI_LOGIN_DEVICE: '1' }, { 'no-browser': true, device: true }],
  ['boolean env 0/no/false', 'login', [], { CLI_LOGIN_NO_BROWSER: 'no', CLI_LOGIN_DEVICE: 'FALSE' }, { 'no-browser': false, device: false }],
  ['token format', 'token', ['--format', 'json', '--min-ttl', '120'], {}, { format: 'json', 'min-ttl': 120 }],
  ['env of another command is ignored', 'status', [], { CLI_LOGIN_CLIENT_ID: 'x' }, {}],
  ['callback-urls format from env', 'callback-urls', [], { CLI_LOGIN_FORMAT: 'auth0' }, { format: 'auth0' }],
  ['inline value', 'login', ['--port=7000'], {}, { port: 7000 }],
]

for (const [name, command, args, env, expected] of parses) {
  test(`parse: ${name}`, () => {
    const { options } = parseCommandArgs(command, args, env)
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
    assert.deepEqual(defined, expected)
  })
}

const rejects: Array<[string, Parameters<typeof parseCommandArgs>[0], string[], NodeJS.ProcessEnv, RegExp]> = [
  ['unknown flag', 'login', ['--bogus'], {}, /unknown option --bogus/],
  ['missing value', 'login', ['--issuer'], {}, /--issuer needs a value/],
  ['positional', 'token', ['extra'], {}, /unexpected argument "extra"/],
  ['port not a number', 'login', ['--port', 'abc'], {}, /--port must be a whole number/],
  ['bad env port names the variable', 'login', [], { CLI_LOGIN_PORT: '42x' }, /CLI_LOGIN_PORT must be a whole number/],
  ['bad boolean env', 'login', [], { CLI_LOGIN_DEVICE: 'maybe' }, /CLI_LOGIN_DEVICE must be 1\/true\/yes or 0\/false\/no/],
  ['bad choice', 'token', ['--format', 'xml'], {}, /--format must be one of raw, json, header/],
  ['bad redirect host', 'login', ['--redirect-host', '0.0.0.0'], {}, /--redirect-host must be one of 127.0.0.1, localhost/],
  ['negative timeout', 'login', ['--timeout', '-5'], {}, /needs a value|must be a number of seconds/],
  ['empty string flag', 'login', ['--issuer', ''], {}, /--issuer must not be empty/],
]

for (const [name, command, args, env, message] of rejects) {
  test(`usage error: ${name}`, () => {
    assert.throws(() => parseCommandArgs(command, args, env), (error: unknown) => {
      assert.ok(error instanceof UsageError)
      assert.match(error.message, message)
      assert.doesNotMatch(error.message, /\n/)
      return true
    })
  })
}

test('--help and -h', () => {
  assert.equal(parseCommandArgs('token', ['--help'], {}).help, true)
  assert.equal(parseCommandArgs('login', ['-h'], {}).help, true)
})

test('a flag for --issuer or --domain beats an env var for the other', () => {
  const viaDomainEnv = parseCommandArgs('login', ['--issuer', 'https://flag/'], { CLI_LOGIN_DOMAIN: 'env.auth0.com' }).options
  assert.equal(viaDomainEnv.issuer, 'https://flag/')
  assert.equal(viaDomainEnv.domain, undefined)
  const viaIssuerEnv = parseCommandArgs('login', ['--domain', 'flag.auth0.com'], { CLI_LOGIN_ISSUER: 'https://env/' }).options
  assert.equal(viaIssuerEnv.domain, 'flag.auth0.com')
  assert.equal(viaIssuerEnv.issuer, undefined)
})

test('a boolean flag given a value is a usage error in plain words', () => {
  assert.throws(() => parseCommandArgs('token', ['--force-refresh=yes'], {}), /--force-refresh takes no value/)
})

test('login --finish is read from the flag only, never from CLI_LOGIN_FINISH', () => {
  assert.equal(parseCommandArgs('login', [], { CLI_LOGIN_FINISH: 'http://127.0.0.1:1/callback?code=x&state=y' }).options.finish, undefined)
  assert.equal(parseCommandArgs('login', ['--finish', 'http://a/'], {}).options.finish, 'http://a/')
  assert.equal(parseCommandArgs('login', [], { CLI_LOGIN_NO_WAIT: '1' }).options['no-wait'], true, 'other login options still read theirs')
})

test('use takes one profile name of any spelling (checked by the library), and only one', () => {
  assert.equal(parseCommandArgs('use', ['work'], {}).positional, 'work')
  assert.throws(() => parseCommandArgs('use', [], {}), /expected one profile$/)
  assert.throws(() => parseCommandArgs('use', ['a', 'b'], {}), /expected one profile$/)
})
