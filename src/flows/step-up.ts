/**
 * Step-up (MCP scope challenges, SEP-835/2350; RFC 9470): what a new login must ask for when a
 * resource refuses the session's token with a challenge, and the error to throw when no browser
 * may be opened.
 */
import type { LoginContext } from '../context.ts'
import { InsufficientScopeError, LoginRequiredError, StepUpRequiredError } from '../errors.ts'
import { normalizeScope, type LoginSettings } from '../options.ts'
import { stepUpOf, type StepUp } from '../net/www-authenticate.ts'
import type { Session } from '../session/session.ts'

/** What a step-up login changes in the login's settings. */
export interface StepUpLogin {
  /** The scope to ask for: the session's and the challenged one (SEP-2350: the union). */
  scope?: string
  acrValues?: string
  maxAge?: number
}

/** The step-up login for a challenge, given the session it refused (undefined: no step-up asked). */
export function stepUpLogin(session: Session | undefined, challenge: string | undefined): { step: StepUp; login: StepUpLogin } | undefined {
  const step = challenge === undefined ? undefined : stepUpOf(challenge)
  if (!step) return undefined
  if (step.kind === 'insufficient_scope') return { step, login: { scope: unionScope(session, step.scope) } }
  return { step, login: { acrValues: step.acrValues, maxAge: step.maxAge } }
}

/** The session's scopes (asked for and granted) and the challenged ones, each once. */
export function unionScope(session: Session | undefined, challenged: string): string {
  return normalizeScope([session?.requestedScope ?? '', session?.scope ?? '', challenged].join(' '))
}

/** The login's settings with what the step-up asks for. */
export function withStepUp(settings: LoginSettings, stepUp: StepUpLogin | undefined): LoginSettings {
  if (!stepUp) return settings
  return {
    ...settings,
    ...(stepUp.scope !== undefined ? { scope: normalizeScope(`${settings.scope} ${stepUp.scope}`) } : {}),
    ...(stepUp.acrValues !== undefined ? { acrValues: stepUp.acrValues } : {}),
    ...(stepUp.maxAge !== undefined ? { maxAge: stepUp.maxAge } : {}),
  }
}

/** The error for a step-up that cannot happen here (no browser allowed, or too many re-authorizations). */
export function stepUpError(ctx: LoginContext, session: Session | undefined, step: StepUp, detail = ''): LoginRequiredError {
  const why = [step.description, detail].filter(Boolean).join('; ')
  if (step.kind === 'insufficient_scope') return new InsufficientScopeError(ctx.loginTarget, unionScope(session, step.scope), step.scope, why)
  return new StepUpRequiredError(ctx.loginTarget, step, why)
}
