/**
 * The home's own settings, apart from any profile: `<home>/config.json`, `{"defaultProfile": "work"}`
 * (written by `setDefaultProfile()`, the CLI's `use`). Read synchronously: the token fast path
 * reads it on every `token` without a profile, with node:fs only.
 */
import { readFileSync } from 'node:fs'
import { SessionFileError } from '../errors.ts'
import { homeConfigPath, isProfileName } from './paths.ts'

export interface HomeConfig {
  /** The profile used when none is named. */
  defaultProfile?: string
}

/** The home's default profile, undefined when none was set; SessionFileError when the file is broken. */
export function readDefaultProfile(home: string): string | undefined {
  const path = homeConfigPath(home)
  const fileProblem = { what: 'configuration', fix: 'delete it, or set the default profile again' }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw new SessionFileError(path, `cannot be read: ${code ?? (error as Error).message}`, { ...fileProblem, cause: error })
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (error) {
    throw new SessionFileError(path, 'not valid JSON', { ...fileProblem, cause: error })
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new SessionFileError(path, 'not a JSON object', fileProblem)
  const { defaultProfile } = config as Record<string, unknown>
  if (defaultProfile === undefined) return undefined
  if (typeof defaultProfile !== 'string' || !isProfileName(defaultProfile)) throw new SessionFileError(path, '"defaultProfile" is not a profile name', fileProblem)
  return defaultProfile
}
