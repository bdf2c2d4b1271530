/** The logout use case: revoke the refresh token (when the provider can), delete the session, optionally end the browser's session. */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { CliLoginError, ErrorCode, ProviderError, SessionFileError } from '../errors.ts'
import type { LogoutOptions, LogoutResult } from '../library-options.ts'
import { issuerFrom, sameIssuer } from '../options.ts'
import type { Session } from '../session/session.ts'
import { discover } from './provider-metadata.ts'

export async function logout(ctx: LoginContext, options: LogoutOptions = {}): Promise<LogoutResult> {
  const { store, profile } = ctx
  const result: LogoutResult = { deleted: false, revoked: false }
  // Read and delete under the lock, so a refresh in another process cannot rotate the refresh
  // token between our reading it and deleting it: the token revoked is the last one there was.
  // (The first look, without the lock, spares a profile with nothing stored a lock file and dirs.)
  const { session } = (await readSessionOrBroken(ctx)).present
    ? await store.withLock(profile, async () => {
        const found = await readSessionOrBroken(ctx)
        if (found.present) result.deleted = await store.deleteSession(profile)
        return found
      })
    : { session: undefined }
  const remembered = await ctx.rememberedSettings().catch(() => ({}) as Awaited<ReturnType<LoginContext['rememberedSettings']>>)
  const issuer = session?.issuer ?? issuerFrom(ctx.options) ?? remembered.issuer
  const clientId = session?.clientId ?? ctx.options.clientId ?? remembered.clientId ?? ''
  let provider: client.Configuration | undefined
  if (session?.refreshToken || options.endBrowserSession) {
    try {
      if (issuer) provider = await discover(ctx, { issuer, clientId, clientSecret: session?.clientSecret, endpoints: session?.endpoints ?? remembered.endpoints }, { cache: sameIssuer(issuer, remembered.issuer ?? issuer) })
      if (provider && session?.refreshToken) {
        const { revokeRefreshToken } = await import('../protocol/revoke.ts')
        const { sessionSigner } = await import('../protocol/dpop.ts')
        result.revoked = await revokeRefreshToken(provider, session.refreshToken, await sessionSigner(provider, session))
      }
    } catch (error) {
      result.revocationError = error instanceof CliLoginError ? error : new ProviderError(ErrorCode.PROVIDER_ERROR, String(error), { cause: error })
    }
  }
  if (session?.refreshToken && !result.revoked) result.refreshTokenLeftValid = true
  if (options.endBrowserSession) {
    result.endSession = !issuer ? { opened: false, reason: 'no-issuer' } : await openEndSession(ctx, provider, session?.idToken, clientId, options.onBrowserWait)
  }
  return result
}

/** The stored session; `present` also when the file is there but unreadable (logout deletes it all the same). */
async function readSessionOrBroken(ctx: LoginContext): Promise<{ present: boolean; session?: Session }> {
  try {
    const session = await ctx.store.readSession(ctx.profile)
    return { present: session !== undefined, session }
  } catch (error) {
    // A broken session file is deleted; what is not a file at all (a fifo, a directory) is not ours to delete.
    if (error instanceof SessionFileError && !error.notRegular) return { present: true }
    throw error
  }
}

async function openEndSession(
  ctx: LoginContext,
  provider: client.Configuration | undefined,
  idToken: string | undefined,
  clientId: string,
  onBrowserWait: LogoutOptions['onBrowserWait'],
): Promise<LogoutResult['endSession']> {
  if (!provider) return { opened: false, reason: 'failed', detail: 'the provider could not be reached' }
  const { endSessionUrl } = await import('../protocol/revoke.ts')
  const url = endSessionUrl(provider, { idToken, clientId })
  if (!url) return { opened: false, reason: 'unsupported' }
  const { startOneShotRedirect } = await import('../loopback/redirect-once.ts')
  const redirect = await startOneShotRedirect(url.href)
  try {
    const opened = await (await ctx.browserOpener())(redirect.url)
    if (!opened.opened) return opened
    onBrowserWait?.({ waitS: END_SESSION_WAIT_MS / 1000 })
    if (await redirect.followed(END_SESSION_WAIT_MS, ctx.signal)) return opened
    if (ctx.signal?.aborted) return { opened: false, reason: 'cancelled' }
    return { opened: false, reason: 'failed', detail: `the browser did not load the page within ${END_SESSION_WAIT_MS / 1000} s` }
  } finally {
    redirect.close()
  }
}

/** How long logout keeps the one-shot redirect up, once the browser has started (PRODUCT.md: at most 10 s). */
const END_SESSION_WAIT_MS = 10_000
