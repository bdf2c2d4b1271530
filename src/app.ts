import { homedir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from './errors.ts'

/** Whose login this is: the embedding tool's name, the command its users run, the name on the pages. */
export interface AppIdentity {
  /** Names the default storage directory (and, later, keychain items): `acme`. */
  appName: string
  /** What every message tells the user to run: `acme login`. */
  loginCommand: string
  /** Shown on the pages in the browser: `Acme CLI`. */
  displayName: string
}

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function resolveAppIdentity(given: { appName?: string; loginCommand?: string; displayName?: string }): AppIdentity {
  const { appName } = given
  if (appName === undefined || appName === '') {
    throw UsageError.forOption('appName', "is required: the embedding tool's name, e.g. { appName: 'acme' } (it names the storage directory)")
  }
  if (!APP_NAME.test(appName)) {
    throw UsageError.forOption('appName', `must be letters, digits, '.', '_' or '-' (at most 64, usable as a directory name), not ${JSON.stringify(appName)}`)
  }
  return {
    appName,
    loginCommand: given.loginCommand || `${appName} login`,
    displayName: given.displayName || appName,
  }
}

/**
 * Where an app's sessions live by default: $XDG_CONFIG_HOME/<app>, else ~/.config/<app> (Linux and
 * macOS alike, as gh does), %APPDATA%\<app> on Windows.
 */
export function defaultHome(appName: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, appName)
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, appName)
  return join(env.HOME || homedir(), '.config', appName)
}
