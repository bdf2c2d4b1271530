import * as client from 'openid-client'
import { ErrorCode, ProviderError } from '../errors.ts'
import { toProviderError } from './provider.ts'
import { withDpop, type DpopSigner } from './dpop.ts'

/** The provider's userinfo (OIDC Core 5.3) for an access token; the subject is checked when known. */
export async function fetchUserinfo(config: client.Configuration, accessToken: string, expectedSubject: string | undefined, signer?: DpopSigner): Promise<Record<string, unknown>> {
  if (!config.serverMetadata().userinfo_endpoint) {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider has no userinfo endpoint', { error: 'userinfo_unsupported' })
  }
  try {
    const subject = expectedSubject ?? client.skipSubjectCheck
    return { ...(await withDpop(config, signer, () => client.fetchUserInfo(config, accessToken, subject, signer ? { DPoP: signer.handle } : undefined))) }
  } catch (error) {
    throw toProviderError(error, 'the userinfo request')
  }
}
