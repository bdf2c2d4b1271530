import { homedir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from '../errors.ts'

/** Where sessions live: --home / CLI_LOGIN_HOME, else $XDG_CONFIG_HOME/cli-login, else ~/.config/cli-login (%APPDATA%\cli-login on Windows). */
export function resolveHome(explicitHome: string | undefined, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (explicitHome) return explicitHome
  if (env.CLI_LOGIN_HOME) return env.CLI_LOGIN_HOME
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'cli-login')
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'cli-login')
  return join(env.HOME || homedir(), '.config', 'cli-login')
}

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function isProfileName(name: string): boolean {
  return PROFILE_NAME.test(name)
}

export function assertProfileName(profile: string): void {
  if (!isProfileName(profile)) {
    throw new UsageError(`invalid profile name ${JSON.stringify(profile)}: use letters, digits, '.', '_' or '-' (at most 64)`)
  }
}

export interface ProfilePaths {
  dir: string
  session: string
  settings: string
  lock: string
  providerCache: string
}

export function profilesDir(home: string): string {
  return join(home, 'profiles')
}

export function profilePaths(home: string, profile: string): ProfilePaths {
  assertProfileName(profile)
  const dir = join(profilesDir(home), profile)
  return {
    dir,
    session: join(dir, 'session.json'),
    settings: join(dir, 'settings.json'),
    lock: join(dir, 'session.lock'),
    providerCache: join(dir, 'provider.json'),
  }
}
