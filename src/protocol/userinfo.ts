import * as client from 'openid-client'
import { ErrorCode, ProviderError } from '../errors.ts'
import { toProviderError } from './provider.ts'

/** The provider's userinfo (OIDC Core 5.3) for an access token; the subject is checked when known. */
export async function fetchUserinfo(config: client.Configuration, accessToken: string, expectedSubject: string | undefined): Promise<Record<string, unknown>> {
  if (!config.serverMetadata().userinfo_endpoint) {
    throw new ProviderError(ErrorCode.PROVIDER_ERROR, 'the provider has no userinfo endpoint', { error: 'userinfo_unsupported' })
  }
  try {
    return { ...(await client.fetchUserInfo(config, accessToken, expectedSubject ?? client.skipSubjectCheck)) }
  } catch (error) {
    throw toProviderError(error, 'the userinfo request')
  }
}
