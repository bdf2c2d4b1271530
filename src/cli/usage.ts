export const COMMANDS = ['login', 'token', 'status', 'logout', 'callback-urls', 'demo'] as const
export type CommandName = (typeof COMMANDS)[number]

const LOGIN_OPTIONS = `  --issuer <url> | --domain <host>  the provider (Auth0: --domain tenant.eu.auth0.com)
  --client-id <id>                  the application's client id (required)
  --client-secret <secret>          only for providers that demand one from desktop apps
                                    (better: CLI_LOGIN_CLIENT_SECRET, kept out of the process list)
  --audience <api>                  Auth0 API identifier to get an access token for
  --organization <id>               Auth0 organization
  --scope <list>                    default "openid profile email offline_access"
  --prompt <value>                  e.g. login (pick another account) or consent
  --port <n>                        first loopback port to try (default 4242)
  --port-attempts <n>               how many ports to try (default 50)
  --redirect-host <host>            127.0.0.1 (default) or localhost
  --redirect-path <path>            default /callback
  --timeout <seconds>               give up waiting for the browser (default 300)
  --no-browser                      print the URL instead of opening a browser
  --device                          device authorization flow (enter a code on any device)`

export const USAGE: Record<CommandName | 'main', string> = {
  main: `usage: cli-login <command> [options]

Commands:
  login           log in through the browser and store the session
  token           print a valid access token (refreshing it when needed)
  status          who is logged in (--json for scripts)
  logout          revoke and delete the stored session (--all, --browser)
  callback-urls   the redirect URIs to register with the provider
  demo            log in against an embedded identity provider, no account needed

Everywhere: --profile <name> (default "default"), --home <dir>. Every option can also be set
as an environment variable CLI_LOGIN_<OPTION>, e.g. CLI_LOGIN_CLIENT_ID.
Run cli-login <command> --help for a command's options.`,
  login: `usage: cli-login login [options]

${LOGIN_OPTIONS}
  --profile <name>, --home <dir>`,
  token: `usage: cli-login token [--min-ttl <seconds>] [--force-refresh] [--format raw|json|header] [--profile <name>] [--home <dir>]`,
  status: `usage: cli-login status [--json] [--profile <name>] [--home <dir>]`,
  logout: `usage: cli-login logout [--all] [--browser] [--no-browser] [--profile <name>] [--home <dir>]`,
  'callback-urls': `usage: cli-login callback-urls [--format lines|auth0] [--port <n>] [--port-attempts <n>] [--redirect-host <host>] [--redirect-path <path>] [--profile <name>] [--home <dir>]`,
  demo: `usage: cli-login demo [--port <n>] [--port-attempts <n>] [--redirect-host <host>] [--redirect-path <path>] [--timeout <seconds>] [--no-browser] [--audience <api>] [--prompt <value>] [--device] [--profile <name>] [--home <dir>]`,
}

/** The first line of a command's usage, printed with usage errors. */
export function usageLine(command: CommandName | 'main'): string {
  return USAGE[command].split('\n')[0]
}
