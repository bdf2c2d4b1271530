/**
 * `cli-login token` when the stored token is still fresh, the command scripts run before every
 * request: read session.json synchronously and print, with none of the rest of the CLI compiled
 * (bin/cli-login.cjs tries this first). It takes its decision with the library's own rule
 * (session/token-decision.ts); anything else (a refresh, an error, --force-refresh, another
 * target, a usage problem) returns false and the full CLI handles it.
 *
 * A session whose secrets are in the keychain: the file says whether the token is fresh; then the
 * one keychain item holding the token is read (the binding is loaded only then). A keychain that
 * fails hands over to the full CLI, which says what is wrong.
 */
import { readFileSync } from 'node:fs'
import { bool, num, parseCommandArgs, str } from './args.ts'
import { CLI_APP, cliHome } from './cli-app.ts'
import { formatToken } from './commands/format-token.ts'
import { writeAllSync } from './write-sync.ts'
import { DEFAULTS } from '../options.ts'
import { profilePaths } from '../session/paths.ts'
import { sessionShapeProblem, type Session } from '../session/session.ts'
import { decideToken } from '../session/token-decision.ts'

export async function tryFreshToken(argv: string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  let output: string
  try {
    const { help, options } = parseCommandArgs('token', argv, env)
    if (help || bool(options, 'force-refresh')) return false
    // Another API or scope is resolved against the session by the library: not here.
    if (str(options, 'audience') !== undefined || str(options, 'resource') !== undefined || str(options, 'scope') !== undefined) return false
    const home = cliHome(str(options, 'home'), env, process.platform)
    const profile = str(options, 'profile') ?? DEFAULTS.profile
    const session = JSON.parse(readFileSync(profilePaths(home, profile).session, 'utf8')) as Session
    if (sessionShapeProblem(session)) return false
    // An explicit --storage the session is not in: the full CLI moves it.
    const storage = str(options, 'storage')
    if (storage !== undefined && storage !== 'auto' && storage !== (session.storage ?? 'file')) return false
    const tokenType = str(options, 'token-type') === 'id' ? 'id' : 'access'
    const inKeychain = session.storage === 'keychain'
    // In the keychain case the file has no token: decide on its expiry, then read the token.
    const decision = decideToken(inKeychain ? { ...session, accessToken: '-', idToken: session.idTokenExpiresAt === undefined ? undefined : '-' } : session, {
      tokenType,
      nowS: Math.floor(Date.now() / 1000),
      minTtlS: num(options, 'min-ttl') ?? DEFAULTS.minTtlS,
    })
    if (decision.action !== 'use') return false
    const token = inKeychain ? { ...decision.token, access_token: await keychainToken(profile, tokenType) } : decision.token
    if (token.access_token === undefined) return false
    output = `${formatToken(token as typeof decision.token, str(options, 'format') ?? 'raw')}\n`
  } catch {
    return false
  }
  try {
    writeAllSync(1, output)
  } catch {
    // stdout is unusable (closed, EIO): printing again from the full CLI would not help
  }
  return true
}

async function keychainToken(profile: string, tokenType: 'access' | 'id'): Promise<string | undefined> {
  const { getLarge, keychainAccount, nativeKeychain } = await import('../session/keychain.ts')
  const keychain = nativeKeychain()
  if (tokenType === 'access') return getLarge(keychain, CLI_APP.appName, keychainAccount(profile, 'access_token'))
  const secrets = await getLarge(keychain, CLI_APP.appName, keychainAccount(profile, 'secrets'))
  const idToken = secrets === undefined ? undefined : (JSON.parse(secrets) as { idToken?: unknown }).idToken
  return typeof idToken === 'string' ? idToken : undefined
}
