/**
 * Where a federated login's assertion comes from, each time one is needed (workload identity
 * federation, SEP-1933): the CI platform's OIDC token. `github`: GitHub Actions' token service
 * (ACTIONS_ID_TOKEN_REQUEST_URL, with ACTIONS_ID_TOKEN_REQUEST_TOKEN, for an audience);
 * `gitlab:<VAR>`: the `id_tokens` variable GitLab CI sets; `env:<VAR>`: any variable;
 * `file:<path>`: a file read each time (Kubernetes' projected service account tokens rotate).
 */
import { readFile } from 'node:fs/promises'
import type { LoginContext } from '../context.ts'
import { AssertionUnavailableError, UsageError } from '../errors.ts'

export type AssertionSource = { kind: 'github' } | { kind: 'gitlab' | 'env'; variable: string } | { kind: 'file'; path: string }

/** `github`, `gitlab:<VAR>`, `env:<VAR>` or `file:<path>`; anything else: UsageError. */
export function parseAssertionSource(text: string): AssertionSource {
  if (text === 'github') return { kind: 'github' }
  const colon = text.indexOf(':')
  const kind = colon > 0 ? text.slice(0, colon) : ''
  const rest = colon > 0 ? text.slice(colon + 1) : ''
  if ((kind === 'gitlab' || kind === 'env') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) return { kind, variable: rest }
  if (kind === 'file' && rest !== '') return { kind, path: rest }
  throw UsageError.forOption('federated', `must be github, gitlab:<VARIABLE>, env:<VARIABLE> or file:<path>, not ${JSON.stringify(text)}`)
}

/** Fetches (or reads) one assertion from the source, for `audience` (GitHub's token service only). */
export async function fetchAssertion(ctx: LoginContext, source: AssertionSource, audience: string): Promise<string> {
  const env = ctx.system.env
  if (source.kind === 'github') return githubActionsToken(ctx, env, audience)
  if (source.kind === 'file') {
    const text = await readFile(source.path, 'utf8').catch((error: unknown) => {
      throw new AssertionUnavailableError(`could not read the assertion file ${source.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error })
    })
    return nonEmpty(text.trim(), `the assertion file ${source.path} is empty`)
  }
  const value = env[source.variable]?.trim()
  const where = source.kind === 'gitlab' ? `the GitLab CI variable ${source.variable} (declare it under id_tokens: in .gitlab-ci.yml)` : `the variable ${source.variable}`
  return nonEmpty(value ?? '', `${where} is not set`)
}

function nonEmpty(value: string, problem: string): string {
  if (value === '') throw new AssertionUnavailableError(problem)
  return value
}

/** GitHub Actions: GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=…, bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN → { value }. */
async function githubActionsToken(ctx: LoginContext, env: NodeJS.ProcessEnv, audience: string): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL
  const token = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!url || !token) {
    throw new AssertionUnavailableError('ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: run in a GitHub Actions job with "permissions: id-token: write"')
  }
  const request = URL.parse(url)
  if (!request) throw new AssertionUnavailableError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL')
  request.searchParams.set('audience', audience)
  ctx.debug(`federation: asking GitHub Actions' token service for a token for ${audience}`)
  let response: Response
  try {
    response = await ctx.providerFetch()(request, { headers: { authorization: `bearer ${token}`, accept: 'application/json' } })
  } catch (error) {
    throw new AssertionUnavailableError(`could not reach GitHub Actions' token service: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  const body = (await response.json().catch(() => undefined)) as { value?: unknown } | undefined
  if (!response.ok || typeof body?.value !== 'string' || body.value === '') {
    throw new AssertionUnavailableError(`GitHub Actions' token service answered HTTP ${response.status} without a token`)
  }
  return body.value
}
