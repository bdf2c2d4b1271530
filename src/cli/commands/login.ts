import { readFileSync } from 'node:fs'
import { CliLogin } from '../../cli-login.ts'
import { UsageError } from '../../errors.ts'
import type { LoginResult } from '../../library-options.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions, describeStatus, loginCallbacks, printQrCode } from './shared.ts'
import type { QrRenderer } from '../qr.ts'
import { nowSeconds } from '../../system.ts'
import { terminalText } from '../../terminal-text.ts'

export async function runLogin(flags: CommandOptions<'login'>, ctx: CliContext): Promise<number> {
  const noWait = flags['no-wait'] === true
  const { finish } = flags
  if (noWait && finish !== undefined) throw new UsageError('--no-wait and --finish go in two separate runs: login --no-wait prints the URL, login --finish <url> completes it')
  if (noWait && flags.device) throw new UsageError('--no-wait cannot be used with --device: the device flow waits for the approval (run login --device alone)')
  if (flags.json && !noWait) throw new UsageError('--json goes with --no-wait (status --json describes a finished login)')
  const machine = flags['client-credentials'] === true || flags.federated !== undefined || flags['federated-grant'] !== undefined
  if (machine) return machineLogin(flags, ctx)
  if (flags['private-key'] !== undefined) throw new UsageError('--private-key goes with --client-credentials (private_key_jwt)')
  const qr = flags.qr ? (await import('../qr.ts')).loadQrRenderer() : undefined
  // A person at a terminal can paste the address the browser ended on instead of waiting for the redirect.
  const pasteFrom = !noWait && finish === undefined && !flags.device ? ctx.terminalInput() : undefined
  const auth = new CliLogin({ ...baseOptions(ctx), ...loginCallbacks(ctx, { qr, pasteFrom }), ...libraryOptions('login', flags).options })
  if (noWait) return startLogin(auth, flags, ctx, qr)
  const result = finish === undefined ? await auth.login() : await auth.finishLogin(finish)
  reportLogin(auth, result, ctx)
  return 0
}

/** `--client-credentials` or `--federated`: no browser, no terminal; the private key is read here, once, and kept in the session. */
async function machineLogin(flags: CommandOptions<'login'>, ctx: CliContext): Promise<number> {
  if (flags['client-credentials'] && (flags.federated !== undefined || flags['federated-grant'] !== undefined)) {
    throw new UsageError('--client-credentials and --federated are two different logins: give one')
  }
  if (flags['federated-grant'] !== undefined && flags.federated === undefined) throw new UsageError('--federated-grant goes with --federated <source>')
  if (flags.federated !== undefined && flags['private-key'] !== undefined) throw new UsageError('--private-key goes with --client-credentials (a federated login needs no key)')
  for (const flag of ['no-wait', 'finish', 'device', 'qr'] as const) {
    if (flags[flag] !== undefined && flags[flag] !== false) throw new UsageError(`--${flag} cannot be used with ${flags.federated !== undefined ? '--federated' : '--client-credentials'}: there is no browser in this login`)
  }
  const options = libraryOptions('login', flags).options
  const keyFile = flags['private-key']
  let privateKey: string | undefined
  if (keyFile !== undefined) {
    try {
      privateKey = readFileSync(keyFile, 'utf8')
    } catch (error) {
      throw new UsageError(`--private-key: cannot read ${keyFile} (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
    }
  }
  const auth = new CliLogin({ ...baseOptions(ctx), ...options, ...(flags['client-credentials'] ? { grant: 'client-credentials' as const } : {}), privateKey })
  const result = await auth.login()
  reportLogin(auth, result, ctx, flags.federated !== undefined ? 'federated' : 'client-credentials')
  return 0
}

async function startLogin(auth: CliLogin, flags: CommandOptions<'login'>, ctx: CliContext, qr: QrRenderer | undefined): Promise<number> {
  const { url, loginId, expiresAt } = await auth.startLogin()
  if (qr) printQrCode(ctx, qr, url)
  if (flags.json) ctx.out(JSON.stringify({ url, login_id: loginId, expires_at: expiresAt }))
  else ctx.out(url)
  const profile = auth.profile === 'default' ? '' : ` --profile ${auth.profile}`
  ctx.err(`Open the URL in a browser, anywhere, and log in; then run: cli-login login${profile} --finish '<the address the browser ended on>'`)
  ctx.err(`(pending login ${loginId}, until ${new Date(expiresAt * 1000).toISOString()})`)
  return 0
}

function reportLogin(auth: CliLogin, result: LoginResult, ctx: CliContext, machine?: 'client-credentials' | 'federated'): void {
  for (const line of describeStatus(result, nowSeconds(ctx.system))) ctx.err(line)
  if (machine) {
    const how = machine === 'federated' ? 'fetches a new CI token and exchanges it again' : 'makes the client credentials grant again'
    ctx.err(`No refresh token by design: once the token expires, cli-login token ${how}.`)
  }
  const before = result.replaced_account
  if (before) {
    const where = before.issuer !== result.issuer ? ` at ${before.issuer}` : ''
    ctx.err(`profile ${auth.profile} was ${terminalText(accountLabel(before))}${where}, now ${terminalText(accountLabel(result))}`)
  }
  if (result.keychain_unavailable) {
    ctx.err(`No usable OS keychain (${result.keychain_unavailable}): the tokens are in ${auth.sessionLocation()} (0600). --storage keychain makes this an error.`)
  } else if (result.storage === 'keychain' && result.keychain_access_token) {
    ctx.err(`The tokens are in the OS keychain (service "cli-login"); ${auth.sessionLocation()} holds no secret.`)
  } else if (result.storage === 'keychain' && machine) {
    ctx.err(`The session's secrets (a client secret or private key, if it has one) are in the OS keychain (service "cli-login"); ${auth.sessionLocation()} (0600) caches the current access token (--keychain-access-token keeps it in the keychain only).`)
  } else if (result.storage === 'keychain') {
    ctx.err(`The refresh token is in the OS keychain (service "cli-login"); ${auth.sessionLocation()} (0600) caches the current access and ID tokens (--keychain-access-token keeps them in the keychain only).`)
  }
  if (result.refresh_token_missing) {
    ctx.err('No refresh token was issued although offline_access was asked for: the login lasts only as long as the access token. Strict OpenID providers issue one only with --prompt consent.')
  }
}

function accountLabel(account: { email: string | null; name: string | null; subject: string | null }): string {
  return account.email ?? account.name ?? account.subject ?? 'an unnamed account'
}
