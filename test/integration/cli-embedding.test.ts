/**
 * Issue 8 on the CLI side, run in-process: token formats and targets (k8s, ID token, another
 * audience), shell completion, --version, and help generated from the option specs.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_SECOND_AUDIENCE, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { COMMAND_SPECS, COMMANDS, type CommandSpec } from '../../src/cli/args.ts'
import { cleanEnv, lastLine, makeTempHome } from '../helpers/cli.ts'
import { runMain } from '../helpers/in-process.ts'
import { findFreePortRange } from '../helpers/ports.ts'

const [alice] = DEMO_USERS
let provider: TestProvider
const cleanups: Array<() => Promise<void>> = []

before(async () => {
  provider = await startTestProvider()
})
after(async () => {
  for (const cleanup of cleanups) await cleanup()
  await provider.close()
})

async function loggedIn() {
  const home = await makeTempHome()
  cleanups.push(home.cleanup)
  const env = cleanEnv(home.dir)
  const port = await findFreePortRange(3)
  const login = await runMain(
    ['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--audience', DEMO_AUDIENCE, '--port', String(port), '--port-attempts', '3', '--no-browser'],
    env,
    { username: alice.username, password: alice.password },
  )
  assert.equal(login.code, 0, login.stderr)
  const sessionFile = join(home.dir, 'cli-login', 'profiles', 'default', 'session.json')
  return { env, session: async () => JSON.parse(await readFile(sessionFile, 'utf8')) }
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

describe('token formats and targets', () => {
  test('--format k8s is a valid ExecCredential for the same token --format json prints', async () => {
    const { env } = await loggedIn()
    const json = await runMain(['token', '--format', 'json'], env)
    assert.equal(json.code, 0, json.stderr)
    const token = JSON.parse(json.stdout)
    const k8s = await runMain(['token', '--format', 'k8s'], env)
    assert.equal(k8s.code, 0, k8s.stderr)
    assert.equal(k8s.stdout.split('\n').length, 2, 'one line of JSON')
    const credential = JSON.parse(k8s.stdout)
    assert.deepEqual(Object.keys(credential).sort(), ['apiVersion', 'kind', 'status'])
    assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1')
    assert.equal(credential.kind, 'ExecCredential')
    assert.equal(credential.status.token, token.access_token)
    assert.match(credential.status.expirationTimestamp, RFC3339_UTC)
    assert.equal(Date.parse(credential.status.expirationTimestamp), token.expires_at * 1000)
  })

  test('--token-type id prints the ID token (raw and as an ExecCredential)', async () => {
    const { env, session } = await loggedIn()
    const raw = await runMain(['token', '--token-type', 'id'], env)
    assert.equal(raw.code, 0, raw.stderr)
    const { idToken } = await session()
    assert.equal(raw.stdout, `${idToken}\n`)
    const claims = decodeJwt(idToken)
    assert.equal(claims.aud, DEMO_CLIENT_ID)
    assert.equal(claims.iss, provider.issuer)
    const k8s = JSON.parse((await runMain(['token', '--token-type', 'id', '--format', 'k8s'], env)).stdout)
    assert.equal(k8s.status.token, idToken)
    assert.equal(Date.parse(k8s.status.expirationTimestamp), claims.exp! * 1000)
    const bad = await runMain(['token', '--token-type', 'refresh'], env)
    assert.equal(bad.code, 2)
    assert.match(lastLine(bad.stderr), /--token-type/)
  })

  test('--audience: a token for another API from the same login, cached; --scope narrows', async () => {
    const { env, session } = await loggedIn()
    const main = (await runMain(['token'], env)).stdout.trim()
    const requests = provider.stats.tokenRequests
    const billing = await runMain(['token', '--audience', DEMO_SECOND_AUDIENCE], env)
    assert.equal(billing.code, 0, billing.stderr)
    const token = billing.stdout.trim()
    assert.deepEqual([decodeJwt(token).aud].flat(), [DEMO_SECOND_AUDIENCE])
    assert.equal(provider.stats.tokenRequests, requests + 1)
    assert.equal((await runMain(['token', '--audience', DEMO_SECOND_AUDIENCE], env)).stdout.trim(), token)
    assert.equal(provider.stats.tokenRequests, requests + 1, 'cached')
    assert.equal((await runMain(['token'], env)).stdout.trim(), main)
    assert.equal((await session()).accessToken, main)

    const narrow = await runMain(['token', '--scope', 'openid'], env)
    assert.equal(narrow.code, 0, narrow.stderr)
    assert.notEqual(narrow.stdout.trim(), main)
    assert.deepEqual([decodeJwt(narrow.stdout.trim()).aud].flat(), [DEMO_AUDIENCE])
  })

  test('Auth0 without a refresh-token policy for the API: exit 1 saying so; the session goes on', async () => {
    const { env } = await loggedIn()
    provider.faults.ignoreRefreshAudience = true
    let result
    try {
      result = await runMain(['token', '--audience', DEMO_SECOND_AUDIENCE], env)
    } finally {
      provider.faults.ignoreRefreshAudience = false
    }
    assert.equal(result.code, 1)
    assert.equal(result.stdout, '')
    assert.match(lastLine(result.stderr), /^cli-login: the provider issued a token for .* instead of /)
    assert.equal((await runMain(['token', '--force-refresh'], env)).code, 0)
  })
})

describe('completion, --version, help', () => {
  const env = { PATH: process.env.PATH }

  test('bash: valid syntax, and it completes commands, flags and their values', async () => {
    const result = await runMain(['completion', 'bash'], env)
    assert.equal(result.code, 0, result.stderr)
    const home = await makeTempHome()
    cleanups.push(home.cleanup)
    const script = join(home.dir, 'cli-login.bash')
    await writeFile(script, result.stdout)
    const syntax = spawnSync('bash', ['-n', script], { encoding: 'utf8' })
    assert.equal(syntax.status, 0, syntax.stderr)
    const complete = (words: string[]): string[] => {
      const line = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _cli_login; printf '%s\\n' "\${COMPREPLY[@]}"`
      const run = spawnSync('bash', ['-c', line], { encoding: 'utf8' })
      assert.equal(run.status, 0, run.stderr)
      return run.stdout.split('\n').filter(Boolean).sort()
    }
    assert.deepEqual(complete(['cli-login', '']), [...COMMANDS, '--help', '--version'].sort())
    assert.deepEqual(complete(['cli-login', 'token', '--fo']), ['--force-refresh', '--format'])
    assert.deepEqual(complete(['cli-login', 'token', '--format', '']), ['dpop', 'header', 'json', 'k8s', 'raw'])
    assert.deepEqual(complete(['cli-login', 'completion', '']), ['bash', 'fish', 'zsh'])
    assert.deepEqual(complete(['cli-login', 'demo', '--sc']), ['--scope'])
  })

  for (const shell of ['zsh', 'fish'] as const) {
    test(`${shell}: every command and every flag`, async () => {
      const result = await runMain(['completion', shell], env)
      assert.equal(result.code, 0, result.stderr)
      for (const command of COMMANDS) {
        assert.match(result.stdout, new RegExp(`\\b${command}\\b`), command)
        for (const [flag, spec] of Object.entries(COMMAND_SPECS[command].options as CommandSpec['options'])) {
          // A flag with a short alias (fetch -X): zsh's '(-X --method)'{-X,--method}'[…]', fish's -s X -l method.
          const zsh = spec.short ? `\\{-${spec.short},--${flag}\\}'\\[` : `'--${flag}\\[`
          const pattern = shell === 'zsh' ? zsh : `__fish_seen_subcommand_from ${command}' ${spec.short ? `-s ${spec.short} ` : ''}-l ${flag}\\b`
          assert.match(result.stdout, new RegExp(pattern), `${command} --${flag}`)
        }
      }
    })
  }

  test('a shell it does not know → exit 2 naming the choices', async () => {
    const result = await runMain(['completion', 'powershell'], env)
    assert.equal(result.code, 2)
    assert.equal(result.stdout, '')
    assert.match(lastLine(result.stderr), /bash.*zsh.*fish/)
  })

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
    const result = await runMain(['--version'], env)
    assert.deepEqual(result, { code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  })

  test('<command> --help lists every option of its spec (demo --help shows --scope)', async () => {
    for (const command of COMMANDS) {
      const help = await runMain([command, '--help'], env)
      assert.equal(help.code, 0, command)
      assert.match(help.stdout, new RegExp(`^usage: cli-login ${command}\\b`))
      for (const [flag, spec] of Object.entries(COMMAND_SPECS[command].options as CommandSpec['options'])) {
        assert.match(help.stdout, new RegExp(`^  ${spec.short ? `-${spec.short}, ` : ''}--${flag}\\b`, 'm'), `${command} --${flag}`)
      }
    }
    const demo = await runMain(['demo', '--help'], env)
    assert.match(demo.stdout, /^ {2}--scope <list>/m)
    const token = await runMain(['token', '--help'], env)
    for (const flag of ['--format', '--token-type', '--audience', '--resource', '--scope', '--min-ttl', '--force-refresh']) assert.ok(token.stdout.includes(flag), flag)
    assert.match(token.stdout, /k8s/)
  })
})
