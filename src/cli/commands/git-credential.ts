/**
 * `cli-login git-credential get|store|erase`: a git credential helper (gitcredentials(7), the
 * helper protocol of git-credential(1)). `get` answers only for an origin the session's token may
 * go to (as `fetch`'s rule; any other: an empty answer, so git asks the next helper): the token as
 * the password (Basic, what every git speaks) with `password_expiry_utc`, or, when git announces
 * `capability[]=authtype` (git ≥ 2.46), `authtype=Bearer` + `credential`. `store` and `erase`
 * are ignored: the session is the store. A DPoP-bound session is refused (git cannot send proofs).
 */
import { CliLogin } from '../../cli-login.ts'
import { ErrorCode, ProviderError, UsageError } from '../../errors.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { tokenProblem } from './format-token.ts'
import { baseOptions } from './shared.ts'
import { isDpopToken } from './format-token.ts'

/** The username git sends with the token as password (servers that take a token as Basic ignore it, or expect this one: GitLab). */
export const GIT_USERNAME = 'oauth2'

export async function runGitCredential(flags: CommandOptions<'git-credential'>, ctx: CliContext, operation?: string): Promise<number> {
  if (operation !== 'get') {
    await ctx.readStdin() // store / erase: read and ignore, as git expects a helper to
    return 0
  }
  const asked = parseCredentialRequest(new TextDecoder().decode(await ctx.readStdin()))
  const origin = asked.protocol && asked.host ? URL.parse(`${asked.protocol}://${asked.host}`)?.origin : undefined
  if (!origin || origin === 'null') return 0
  const { options } = libraryOptions('git-credential', flags)
  const auth = new CliLogin({ ...baseOptions(ctx), ...options, noBrowser: true })
  try {
    if (!(await auth.tokenOrigins()).includes(origin)) {
      if (ctx.debug) ctx.err(`debug: git-credential: ${origin} is not among the session's origins; no answer`)
      return 0
    }
    const token = await auth.getAccessToken()
    if (isDpopToken(token)) {
      throw new UsageError("the session's token is DPoP-bound (RFC 9449) and git cannot send a DPoP proof: use cli-login fetch, or log in with --dpop off for git")
    }
    const problem = tokenProblem(token.access_token)
    if (problem) throw new ProviderError(ErrorCode.PROVIDER_ERROR, `the stored access token is not a valid bearer token (${problem}), so it is not given to git: run cli-login login again`, { error: 'invalid_token' })
    const expiry = token.expires_at === null ? [] : [`password_expiry_utc=${token.expires_at}`]
    const lines = asked.capabilities.includes('authtype')
      ? ['capability[]=authtype', 'authtype=Bearer', `credential=${token.access_token}`, ...expiry]
      : [`username=${GIT_USERNAME}`, `password=${token.access_token}`, ...expiry]
    ctx.writeOut(Buffer.from(`${lines.join('\n')}\n`))
    return 0
  } finally {
    await auth.settled()
  }
}

interface CredentialRequest {
  protocol?: string
  host?: string
  capabilities: string[]
}

/** git's `key=value` lines, up to a blank line or the end. */
export function parseCredentialRequest(text: string): CredentialRequest {
  const request: CredentialRequest = { capabilities: [] }
  for (const line of text.split('\n')) {
    if (line === '') break
    const eq = line.indexOf('=')
    if (eq < 0) continue
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1).replace(/\r$/, '')
    if (key === 'protocol') request.protocol = value
    else if (key === 'host') request.host = value
    else if (key === 'capability[]') request.capabilities.push(value)
  }
  return request
}
