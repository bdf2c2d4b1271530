/**
 * Which client a login uses when none is given: a Client ID Metadata Document URL where the server
 * supports them, else a registration of the tool's own (RFC 7591), made once and reused — the one
 * the profile remembers (CLI) or the one the stored session carries (library) — and made again,
 * once, when the server has forgotten it.
 */
import type * as client from 'openid-client'
import type { LoginContext } from '../context.ts'
import { UsageError } from '../errors.ts'
import { callbackUrls, sameIssuer, type LoginSettingsInput, type RedirectSettings } from '../options.ts'
import type { ClientRegistration, ProfileSettings, Session } from '../session/session.ts'

export interface ClientChoice {
  clientId: string
  clientSecret?: string
  /** Set when the client id is a registration of the tool's: it may be registered again. */
  registration?: ClientRegistration
  /** Registered by this login, a moment ago: not worth asking the server whether it knows it. */
  registeredNow?: boolean
}

/**
 * The client for a login with no client id given, or undefined when the profile remembers a client
 * id the user gave (that one is used as is).
 */
export async function chooseClient(
  ctx: LoginContext,
  params: { issuer: string; metadata: client.ServerMetadata; redirect: RedirectSettings; given: LoginSettingsInput; remembered: ProfileSettings; forceRegistration?: boolean },
): Promise<ClientChoice | undefined> {
  const { issuer, metadata, redirect, given, remembered } = params
  if (given.clientId) return undefined
  const rememberedHere = remembered.issuer !== undefined && sameIssuer(remembered.issuer, issuer)
  if (rememberedHere && remembered.clientId && !remembered.registration) return undefined
  if (given.clientMetadataUrl !== undefined && URL.parse(given.clientMetadataUrl)?.protocol !== 'https:') {
    throw UsageError.forOption('clientMetadataUrl', `must be an https URL, not ${JSON.stringify(given.clientMetadataUrl)}`)
  }
  if (metadata.client_id_metadata_document_supported === true && given.clientMetadataUrl) {
    ctx.debug(`client: the Client ID Metadata Document ${given.clientMetadataUrl}`)
    return { clientId: given.clientMetadataUrl }
  }
  const redirectUris = callbackUrls(redirect)
  if (!params.forceRegistration) {
    const reused = await reusableRegistration(ctx, issuer, redirectUris, rememberedHere ? remembered : {})
    if (reused) return reused
  }
  if (!metadata.registration_endpoint) {
    throw UsageError.forOption('clientId', 'is required (the authorization server offers no dynamic client registration)')
  }
  ctx.debug(`client: registering at ${metadata.registration_endpoint} with ${redirectUris.length} redirect URIs`)
  const { registerClient } = await import('../protocol/registration.ts')
  const registered = await registerClient(metadata, { clientName: ctx.app.displayName, redirectUris, fetch: ctx.providerFetch() })
  ctx.debug(`client: registered as ${registered.clientId}`)
  return { ...registered, registration: { redirectUris, ...(registered.clientSecret ? { hasSecret: true } : {}) }, registeredNow: true }
}

/**
 * A registration made earlier for this issuer that covers every redirect URI of the range: the
 * stored session's, else the one the profile remembers (its secret, if any, lives with the session).
 */
async function reusableRegistration(ctx: LoginContext, issuer: string, redirectUris: string[], remembered: ProfileSettings): Promise<ClientChoice | undefined> {
  const session: Session | undefined = await ctx.store.readSession(ctx.profile).catch(() => undefined)
  const covers = (registration: ClientRegistration) => redirectUris.every((uri) => registration.redirectUris.includes(uri))
  if (session?.registration && sameIssuer(session.issuer, issuer) && covers(session.registration)) {
    ctx.debug(`client: reusing the registration ${session.clientId} of the stored session`)
    return { clientId: session.clientId, clientSecret: session.clientSecret, registration: session.registration }
  }
  const { clientId, registration } = remembered
  if (clientId && registration && covers(registration) && !registration.hasSecret) {
    ctx.debug(`client: reusing the registration ${clientId} the profile remembers`)
    return { clientId, registration }
  }
  return undefined
}

/** Before the browser opens: does the server still know the registered client? */
export async function isRegistrationKnown(ctx: LoginContext, metadata: client.ServerMetadata, clientId: string, redirect: RedirectSettings): Promise<boolean> {
  if (!metadata.authorization_endpoint) return true
  const { isClientKnown } = await import('../protocol/registration.ts')
  try {
    return await isClientKnown(metadata.authorization_endpoint, clientId, callbackUrls(redirect)[0], ctx.providerFetch())
  } catch (error) {
    // Unreachable now: the login itself will say so.
    ctx.debug(`client: could not ask the authorization endpoint about ${clientId}: ${error instanceof Error ? error.message : String(error)}`)
    return true
  }
}
