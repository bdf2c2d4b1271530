/** The provider's userinfo for the stored session (a valid access token first, refreshed if need be). */
import type { LoginContext } from '../context.ts'
import { getAccessToken, readUsableSession } from './access-token.ts'
import { loadProvider } from './provider-metadata.ts'

export async function userinfo(ctx: LoginContext): Promise<Record<string, unknown>> {
  const { access_token } = await getAccessToken(ctx)
  const session = await readUsableSession(ctx, true)
  const { config } = await loadProvider(ctx, session)
  const { fetchUserinfo } = await import('../protocol/userinfo.ts')
  ctx.debug(`userinfo: ${config.serverMetadata().userinfo_endpoint ?? '(none)'}`)
  const { sessionSigner } = await import('../protocol/dpop.ts')
  return fetchUserinfo(config, access_token, session.user.sub, await sessionSigner(config, session))
}
