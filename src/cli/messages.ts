/**
 * The standalone CLI's words for the library's errors: the library names its options and the
 * tool's login command; the CLI knows its own flags and CLI_LOGIN_* variables and adds them here,
 * keyed by error code.
 */
import { CliLoginError, ErrorCode, InsufficientScopeError, LoginTimeoutError, OriginNotAllowedError, StepUpRequiredError, PendingLoginError, PortsUnavailableError, ProfileNotFoundError, ProviderError, UsageError } from '../errors.ts'
import { envVarFor, FLAG_FOR_OPTION } from './args.ts'

export function cliMessage(error: CliLoginError): string {
  if (error instanceof OriginNotAllowedError) return error.message.replace(/list the origin in "allowOrigins" to send it there$/, '--allow-origin <origin> sends it there too')
  if (error instanceof UsageError) return usageMessage(error)
  // Step-up: the login command to run, with what it must ask for (the CLI never opens a browser for it).
  if (error instanceof InsufficientScopeError) return error.message.replace(/run cli-login login$/, `run cli-login login${profileFlag(error.profile)} --scope "${error.scope}"`)
  if (error instanceof StepUpRequiredError) return error.message.replace(/run cli-login login$/, `run cli-login login${profileFlag(error.profile)} --prompt login${error.acrValues !== undefined ? ' (with a sign-in that meets the acr_values asked for)' : ''}`)
  if (error instanceof LoginTimeoutError && error.browser) return `${error.message} (cli-login callback-urls lists the callback URLs to register; --timeout sets the limit)`
  if (error.code === ErrorCode.LOGIN_TIMEOUT) return `${error.message} (--timeout sets the limit)`
  if (error instanceof PortsUnavailableError) {
    const range = error.firstPort === error.lastPort ? `port ${error.firstPort}` : `ports ${error.firstPort}-${error.lastPort}`
    return `${range} on ${error.host} ${error.firstPort === error.lastPort ? 'is' : 'are all'} in use: free one or pass --port / --port-attempts`
  }
  if (error instanceof ProviderError && error.error === 'device_flow_unsupported') return `${error.message} (without --device)`
  if (error instanceof ProviderError && (error.error === 'dpop_unsupported' || error.error === 'dpop_not_bound')) return `${error.message} (--dpop off)`
  if (error instanceof ProviderError && error.error === 'par_unsupported') return `${error.message} (--par off)`
  if (error instanceof PendingLoginError) {
    const profile = error.profile === 'default' ? '' : ` --profile ${error.profile}`
    return error.message.replace(/start a new one$/, `start a new one with cli-login login${profile} --no-wait`)
  }
  if (error instanceof ProfileNotFoundError) return error.message.replace(/cli-login login first$/, `cli-login login --profile ${error.profile} first`)
  if (error.code === ErrorCode.KEYCHAIN_UNAVAILABLE) return error.message.replace(/with file storage$/, 'with --storage file').replace(/use file storage$/, 'use --storage file')
  return error.message
}

function profileFlag(profile: string): string {
  return profile === 'default' ? '' : ` --profile ${profile}`
}

function usageMessage(error: UsageError): string {
  const flag = error.option && FLAG_FOR_OPTION.get(error.option)
  if (!flag) return error.message
  if (error.option === 'issuer' && /^is required/.test(error.problem)) {
    return `an issuer is required: pass --issuer <url>, --domain <host> or the API's --resource <url> (or set ${envVarFor('issuer')})`
  }
  if (error.option === 'clientId' && /^is required/.test(error.problem)) {
    const why = /^is required \((.+)\)$/.exec(error.problem)?.[1]
    return `a client id is required${why ? ` (${why})` : ''}: pass --client-id <id> (or set ${envVarFor('client-id')})`
  }
  return `--${flag} ${error.problem.replace(/"issuer"/g, '--issuer').replace(/"privateKey"/g, '--private-key')}`
}
