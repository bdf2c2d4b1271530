/**
 * The slice of oidc-provider (and Koa) the test kit uses — oidc-provider ships no types — and the
 * one place that loads it: lazily (importing the test kit costs nothing until a provider starts) and
 * quietly (it prints nothing unless CLI_LOGIN_DEBUG=1).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface OidcContextState {
  params?: Record<string, unknown>
  client?: { clientId: string; clientName?: string }
  route?: string
}

export interface KoaContext {
  method: string
  path: string
  querystring: string
  protocol: string
  host: string
  status: number
  body: unknown
  type: string
  req: IncomingMessage
  res: ServerResponse
  response: { get(field: string): string }
  oidc?: OidcContextState
  get(field: string): string
  set(field: string, value: string): void
  redirect(url: string): void
}
export type Next = () => Promise<void>
/** A Koa middleware, as oidc-provider's `use()` takes it. */
export type Middleware = (ctx: KoaContext, next: Next) => Promise<void>

export interface InteractionDetails {
  uid: string
  prompt: { name: string; reasons?: string[]; details: Record<string, unknown> }
  params: Record<string, unknown>
  session?: { accountId?: string }
  grantId?: string
}

export interface GrantInstance {
  addOIDCScope(scope: string): void
  addOIDCClaims(claims: string[]): void
  addResourceScope(resource: string, scope: string): void
  save(): Promise<string>
}

export interface GrantModel {
  new (init: { accountId: string; clientId: string }): GrantInstance
  find(id: string): Promise<GrantInstance | undefined>
}

export interface AccessTokenInstance { accountId?: string; aud?: string | string[]; scope?: string; isExpired?: boolean; jkt?: string }

export interface ProviderInstance {
  use(middleware: Middleware): void
  on(event: string, listener: (...args: unknown[]) => void): void
  callback(): (req: IncomingMessage, res: ServerResponse) => void
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>
  Grant: GrantModel
  AccessToken: { find(value: string): Promise<AccessTokenInstance | undefined> }
  Client: { find(id: string): Promise<{ clientId: string; clientName?: string } | undefined> }
  ClientCredentials: { find(value: string): Promise<{ clientId?: string; aud?: string | string[]; scope?: string; isExpired?: boolean } | undefined> }
  // oidc-provider's handlers are Koa middleware over its own context (typed where they are written).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  registerGrantType(name: string, handler: (ctx: any) => Promise<void>, parameters?: string[]): void
}

export interface ProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance
  errors: { InvalidTarget: new (description?: string) => Error; InvalidGrant: new () => Error; InvalidRequest: new (description?: string) => Error }
}

/**
 * oidc-provider warns on stdout/stderr when imported on Node.js 20 ("Unsupported runtime"); the
 * demo provider must print nothing, so exactly that one notice is dropped while the module loads.
 */
export async function importOidcProvider(): Promise<ProviderModule> {
  const specifier = 'oidc-provider'
  const originalWarn = console.warn
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return
    originalWarn.apply(console, args)
  }
  try {
    return (await import(specifier)) as ProviderModule
  } finally {
    console.warn = originalWarn
  }
}

/**
 * Koa prints unhandled errors unless the application has an error listener: the demo stays quiet,
 * except with CLI_LOGIN_DEBUG=1, when server errors go to stderr.
 */
export function quietServerErrors(provider: ProviderInstance): void {
  const debug = /^(1|true|yes)$/i.test(process.env.CLI_LOGIN_DEBUG ?? '')
  const reportServerError = (...args: unknown[]): void => {
    const error = args.find((arg) => arg instanceof Error)
    if (debug && error) console.error('cli-login demo provider:', error)
  }
  provider.on('error', reportServerError)
  provider.on('server_error', reportServerError)
}
