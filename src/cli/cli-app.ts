import { defaultHome } from '../app.ts'

/** The standalone CLI is one embedding tool among others: this is its identity. */
export const CLI_APP = { appName: 'cli-login', loginCommand: 'cli-login login', displayName: 'cli-login' } as const

/** Where the CLI's sessions live: --home / CLI_LOGIN_HOME (already merged by args.ts), else the app's default. */
export function cliHome(home: string | undefined, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  return home ?? defaultHome(CLI_APP.appName, env, platform)
}
