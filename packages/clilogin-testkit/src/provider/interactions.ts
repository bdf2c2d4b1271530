/**
 * The interactions oidc-provider hands to the application (`/interaction/<uid>`): the sign-in page
 * and its form, the consent page and its form, each finished with interactionResult().
 */
import { methodNotAllowed, readForm, stringParam } from './http.ts'
import type { Kit } from './kit.ts'
import type { InteractionDetails, KoaContext, Middleware, ProviderInstance } from './oidc-provider.ts'
import { consentPage, interactionErrorPage, signInPage } from './pages.ts'

/** Answers `/interaction/<uid>` (GET: the page) and `/interaction/<uid>/login|confirm` (POST: its form). */
export function interactionRoutes(kit: Kit, provider: ProviderInstance): Middleware {
  return async (ctx, next) => {
    const interaction = /^\/interaction\/([^/]+)(?:\/(login|confirm))?\/?$/.exec(ctx.path)
    if (!interaction) return next()
    await handleInteraction(kit, provider, ctx, interaction[1], interaction[2])
  }
}

async function clientNameOf(provider: ProviderInstance, details: InteractionDetails): Promise<string> {
  const clientId = stringParam(details.params, 'client_id') ?? ''
  const client = clientId ? await provider.Client.find(clientId) : undefined
  return client?.clientName ?? clientId
}

async function finish(provider: ProviderInstance, ctx: KoaContext, result: Record<string, unknown>, mergeWithLastSubmission: boolean): Promise<void> {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission })
  ctx.set('Cache-Control', 'no-store')
  ctx.status = 303
  ctx.redirect(returnTo)
}

async function handleInteraction(kit: Kit, provider: ProviderInstance, ctx: KoaContext, uid: string, step: string | undefined): Promise<void> {
  let details: InteractionDetails
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res)
  } catch (error) {
    interactionErrorPage(ctx, error)
    return
  }
  if (details.uid !== uid) {
    interactionErrorPage(ctx, Object.assign(new Error('interaction mismatch'), { name: 'SessionNotFound' }))
    return
  }
  const clientName = await clientNameOf(provider, details)

  if (step === undefined) {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx)
    if (details.prompt.name === 'login') return signInPage(ctx, kit, details, clientName)
    if (details.prompt.name === 'consent') return consentPage(ctx, kit, details, clientName)
    return interactionErrorPage(ctx, new Error(`unsupported prompt ${details.prompt.name}`))
  }

  if (ctx.method !== 'POST') return methodNotAllowed(ctx)
  const form = await readForm(ctx.req)

  if (step === 'login' && details.prompt.name === 'login') {
    if (form.get('action') === 'cancel') {
      await finish(provider, ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in' }, false)
      return
    }
    const username = (form.get('username') ?? '').trim()
    const password = form.get('password') ?? ''
    const user = kit.users.find((candidate) => (candidate.username === username || candidate.email === username)
      && candidate.password === password)
    if (!user) {
      signInPage(ctx, kit, details, clientName, { username })
      return
    }
    await finish(provider, ctx, { login: { accountId: user.sub } }, false)
    return
  }

  if (step === 'confirm' && details.prompt.name === 'consent') {
    if (form.get('action') !== 'allow') {
      await finish(provider, ctx, { error: 'access_denied', error_description: 'The user denied access' }, false)
      return
    }
    const accountId = details.session?.accountId
    const clientId = stringParam(details.params, 'client_id')
    if (!accountId || !clientId) {
      interactionErrorPage(ctx, new Error('consent without a signed-in user'))
      return
    }
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined)
      ?? new provider.Grant({ accountId, clientId })
    const promptDetails = details.prompt.details as {
      missingOIDCScope?: string[]
      missingOIDCClaims?: string[]
      missingResourceScopes?: Record<string, string[]>
    }
    if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '))
    if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims)
    for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '))
    }
    const grantId = await grant.save()
    await finish(provider, ctx, { consent: details.grantId ? {} : { grantId } }, true)
    return
  }

  interactionErrorPage(ctx, new Error(`unexpected ${step} for prompt ${details.prompt.name}`))
}
