import { posix, win32 } from 'node:path'
import { StorageError, UsageError } from './errors.ts'

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
 * macOS alike, as gh does), %APPDATA%\<app> on Windows. Nothing is ever kept under the current
 * directory (PRODUCT.md, Storage): a relative or empty XDG_CONFIG_HOME is ignored, as the XDG spec
 * says; a relative or empty APPDATA or HOME, where it is the one to use, is a StorageError naming it.
 */
export function defaultHome(appName: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  const path = platform === 'win32' ? win32 : posix
  const xdg = env.XDG_CONFIG_HOME
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, appName)
  if (platform === 'win32' && env.APPDATA !== undefined) return path.join(absoluteVariable('APPDATA', env.APPDATA, path), appName)
  // node:os only when HOME is unset: loading it is a few % of a cached `cli-login token`.
  const home = env.HOME === undefined ? process.getBuiltinModule('node:os').homedir() : absoluteVariable('HOME', env.HOME, path)
  return path.join(home, '.config', appName)
}

function absoluteVariable(name: string, value: string, path: typeof posix): string {
  if (value !== '' && path.isAbsolute(value)) return value
  const what = value === '' ? 'is empty' : `is a relative path (${JSON.stringify(value)})`
  throw new StorageError(`the environment variable ${name} ${what}, so there is no place for sessions (they are never kept under the current directory): set ${name} to an absolute path`)
}
