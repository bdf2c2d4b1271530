/** A CLI session of alice's at a test kit provider, as `cli-login login` stores it (for the refresh tests). */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEMO_CLIENT_ID, DEMO_USERS, type TestProvider } from 'clilogin-testkit'
import type { Session } from '../../src/session/session.ts'
import { cleanEnv, makeTempHome } from './cli.ts'
import { runMain } from './in-process.ts'
import { findFreePortRange } from './ports.ts'

export interface LoggedIn {
  env: NodeJS.ProcessEnv
  /** The CLI's home (CLI_LOGIN_HOME). */
  home: string
  profileDir: string
  sessionFile: string
  session(): Promise<Session>
}

/** Logs alice in with the CLI (in this process, the browser over HTTP); `cleanups` gets the temporary home. */
export async function loggedIn(provider: TestProvider, cleanups: Array<() => Promise<void>>): Promise<LoggedIn> {
  const temp = await makeTempHome()
  cleanups.push(temp.cleanup)
  const env = cleanEnv(temp.dir)
  const port = await findFreePortRange(3)
  const [alice] = DEMO_USERS
  const login = await runMain(['login', '--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--port', String(port), '--port-attempts', '3'], env, {
    username: alice.username,
    password: alice.password,
  })
  assert.equal(login.code, 0, login.stderr)
  const home = join(temp.dir, 'cli-login')
  const profileDir = join(home, 'profiles', 'default')
  const sessionFile = join(profileDir, 'session.json')
  return { env, home, profileDir, sessionFile, session: async () => JSON.parse(await readFile(sessionFile, 'utf8')) as Session }
}

/** Makes the stored access token look expired (as if time had passed), keeping the refresh token. */
export async function expire(sessionFile: string): Promise<void> {
  const session = JSON.parse(await readFile(sessionFile, 'utf8'))
  session.expiresAt = Math.floor(Date.now() / 1000) - 1
  await writeFile(sessionFile, JSON.stringify(session))
}
