import { join } from 'node:path'
import { UsageError } from '../errors.ts'

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function isProfileName(name: string): boolean {
  return PROFILE_NAME.test(name)
}

export function assertProfileName(profile: string): void {
  if (!isProfileName(profile)) {
    throw UsageError.forOption('profile', `must be letters, digits, '.', '_' or '-' (at most 64), not ${JSON.stringify(profile)}`)
  }
}

export interface ProfilePaths {
  dir: string
  session: string
  settings: string
  lock: string
  providerCache: string
  /** A login started and not yet finished (session/pending-login.ts). */
  pendingLogin: string
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
    pendingLogin: join(dir, 'pending-login.json'),
  }
}

/** The home's own settings (the default profile): <home>/config.json. */
export function homeConfigPath(home: string): string {
  return join(home, 'config.json')
}
