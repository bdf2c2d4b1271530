/** plainTokens (token's fast path) against node:util parseArgs: the same values whenever it answers, and it answers for the plain forms. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseArgs } from 'node:util'
import { plainTokens } from '../../src/cli/option-parser.ts'
import { TOKEN_SPEC } from '../../src/cli/token-options.ts'

const options = {
  ...Object.fromEntries(Object.entries(TOKEN_SPEC.options).map(([name, option]) => [name, { type: option.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }])),
  help: { type: 'boolean' as const, short: 'h' },
}

/** What parseArgs (strict, as the full CLI runs it) makes of the arguments, or undefined when it refuses them. */
function parsedByUtil(args: string[]): Record<string, unknown> | undefined {
  try {
    const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: false, options })
    return positionals.length ? undefined : { ...values }
  } catch {
    return undefined
  }
}

const WORDS = [
  '--profile', '--profile=work', '--profile=', '--home', '--home=/tmp/h', '--min-ttl', '--min-ttl=30', '--format', '--format=json',
  '--force-refresh', '--force-refresh=1', '--keychain-access-token', '--storage', '--storage=file', '--audience', '--scope=a b',
  '--token-type', '--nope', '--nope=1', '--', '-h', '--help', '-p', '-', 'json', 'work', '30', '-5', '--x=--y', '', ' ', 'a=b', '--=x',
]

/** A small deterministic generator (no flaky seeds): every run checks the same 20,000 argument lists. */
function* argumentLists(): Generator<string[]> {
  let state = 0x2545f491
  const next = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
  for (let n = 0; n < 20_000; n++) {
    const length = Math.floor(next() * 6)
    yield Array.from({ length }, () => WORDS[Math.floor(next() * WORDS.length)])
  }
}

test('whenever plainTokens answers, parseArgs gives the same values (20,000 argument lists)', () => {
  let answered = 0
  for (const args of argumentLists()) {
    const plain = plainTokens(TOKEN_SPEC, args)
    if (!plain) continue
    answered++
    assert.deepEqual({ ...plain.values }, parsedByUtil(args), JSON.stringify(args))
    assert.deepEqual(plain.positionals, [])
  }
  // Not a test that passes by answering nothing: the plain forms are common among these lists.
  assert.ok(answered > 2_000, `answered ${answered}`)
})

test('the forms scripts use are answered without parseArgs', () => {
  for (const args of [[], ['--profile', 'work'], ['--profile=work', '--format', 'json'], ['--min-ttl', '120', '--force-refresh'], ['--home', '/x', '--storage=file', '--keychain-access-token']]) {
    assert.deepEqual({ ...plainTokens(TOKEN_SPEC, args)?.values }, parsedByUtil(args), JSON.stringify(args))
  }
})

test('anything else is left to the full parser: help, short flags, repeats, unknown flags, values that look like flags, positionals', () => {
  for (const args of [['-h'], ['--help'], ['--profile', 'a', '--profile', 'b'], ['--nope'], ['--profile', '--format'], ['--min-ttl', '-5'], ['--'], ['work'], ['--force-refresh=1'], ['--profile']]) {
    assert.equal(plainTokens(TOKEN_SPEC, args), undefined, JSON.stringify(args))
  }
})
