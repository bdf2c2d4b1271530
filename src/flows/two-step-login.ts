/**
 * A browser login in two steps, for tools driven by agents or scripts: startLogin() builds the
 * authorization URL and keeps the attempt as a pending login of the profile (a secret, see
 * session/pending-login.ts); finishLogin(address) — in any process, any instance of the profile —
 * checks the address the browser ended on exactly as the loopback redirect is checked, redeems the
 * code and stores the session as a login does. One pending login per profile, used once, expiring.
 */
import { randomBytes } from 'node:crypto'
import type { LoginContext } from '../context.ts'
import { PendingLoginError, StorageError, UsageError } from '../errors.ts'
import type { PendingLoginStart } from '../library-options.ts'
import { callbackUrlFor, classifyPastedAddress, pastedAddressProblem } from '../loopback/guard.ts'
import { callbackUrls } from '../options.ts'
import { pendingRecord, type PendingLogin } from '../session/pending-login.ts'
import type { SessionStore } from '../session/file-store.ts'
import { dpopForLogin, loginOutcome, redeemAndStore, revokeReplaced, storedSessionBefore, withLoginHint, type LoginOutcome } from './login.ts'
import { prepareLogin } from './login-target.ts'
import { loadProvider } from './provider-metadata.ts'

type PendingStore = Required<Pick<SessionStore, 'readPendingLogin' | 'writePendingLogin'>>

export async function startLogin(ctx: LoginContext): Promise<PendingLoginStart> {
  const store = pendingStore(ctx)
  const previous = await storedSessionBefore(ctx)
  const prepared = await prepareLogin(ctx)
  if (prepared.settings.device) throw UsageError.forOption('device', 'cannot be used for a login finished later: the device flow polls until the user approves')
  const settings = withLoginHint(prepared.settings, previous)
  const { newAttempt, authorizationRequest } = await import('../protocol/authorize.ts')
  const attempt = await newAttempt({ dpop: await dpopForLogin(ctx, prepared.provider.config, settings) })
  // The first port of the range, not probed: no server listens, the answer comes back as an address.
  const [redirectUri] = callbackUrls({ ...settings, portAttempts: 1 })
  const { url, expiresInS } = await authorizationRequest(prepared.provider.config, attempt, { ...settings, redirectUri }, { par: settings.par, later: true, debug: (line) => ctx.debug(line) })
  const now = ctx.nowS()
  const pending: PendingLogin = {
    version: 1,
    loginId: randomBytes(12).toString('base64url'),
    createdAt: now,
    // A pushed request's request_uri may not live as long as the timeout.
    expiresAt: now + Math.ceil(Math.min(settings.timeoutS, expiresInS ?? Infinity)),
    redirectUri,
    attempt,
    settings,
  }
  ctx.throwIfCancelled()
  // One per profile: this one replaces any other.
  await ctx.store.withLock(ctx.profile, () => store.writePendingLogin(ctx.profile, pending))
  ctx.debug(`pending login ${pending.loginId}: stored, expires at ${new Date(pending.expiresAt * 1000).toISOString()}`)
  return { url: url.href, loginId: pending.loginId, expiresAt: pending.expiresAt }
}

export async function finishLogin(ctx: LoginContext, address: string): Promise<LoginOutcome> {
  const store = pendingStore(ctx)
  await storedSessionBefore(ctx)
  const { pending, callbackUrl } = await ctx.store.withLock(ctx.profile, () => takePendingLogin(ctx, store, address))
  const { attempt, settings } = pending as Required<PendingLogin>
  ctx.debug(`pending login ${pending.loginId}: taken`)
  const provider = (await loadProvider(ctx, settings)).config
  const stored = await redeemAndStore(ctx, provider, settings, attempt, pending.redirectUri, callbackUrl)
  await revokeReplaced(ctx, stored.replaced, stored.session, provider)
  return loginOutcome(ctx, stored, settings)
}

/**
 * Under the profile's lock, so that two processes never both take it: the pending login, checked
 * against the address, then marked used (its secrets gone from storage) before its code is redeemed.
 */
async function takePendingLogin(ctx: LoginContext, store: PendingStore, address: string): Promise<{ pending: PendingLogin; callbackUrl: URL }> {
  const pending = await store.readPendingLogin(ctx.profile)
  const detail = { loginId: pending?.loginId, expiresAt: pending?.expiresAt }
  if (!pending) throw new PendingLoginError('none', ctx.loginTarget)
  if (pending.usedAt !== undefined) throw new PendingLoginError('used', ctx.loginTarget, detail)
  if (!pending.attempt || !pending.settings || pending.expiresAt <= ctx.nowS()) {
    if (pending.attempt) await store.writePendingLogin(ctx.profile, pendingRecord(pending))
    throw new PendingLoginError('expired', ctx.loginTarget, detail)
  }
  const verdict = classifyPastedAddress(address, { redirectUri: pending.redirectUri, state: pending.attempt.state })
  if (verdict === 'bad-state') throw new PendingLoginError('state-mismatch', ctx.loginTarget, detail)
  if (verdict !== 'callback') throw new PendingLoginError('not-an-answer', ctx.loginTarget, { ...detail, problem: pastedAddressProblem(verdict, pending.redirectUri) })
  await store.writePendingLogin(ctx.profile, { ...pendingRecord(pending), usedAt: ctx.nowS() })
  return { pending, callbackUrl: callbackUrlFor(pending.redirectUri, new URL(address.trim()).search) }
}

function pendingStore(ctx: LoginContext): PendingStore {
  const { store } = ctx
  if (!store.readPendingLogin || !store.writePendingLogin) throw new StorageError('this session store keeps no pending logins (readPendingLogin, writePendingLogin): a two-step login needs them')
  return store as unknown as PendingStore
}
