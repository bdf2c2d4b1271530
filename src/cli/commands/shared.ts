import type { CliLoginOptions } from '../../library-options.ts'
import type { SessionStatus } from '../../session/session.ts'
import type { CliContext } from '../io.ts'
import { CLI_APP } from '../cli-app.ts'
import { terminalText } from '../../terminal-text.ts'
import { rfc3339 } from '../../time.ts'
import { pastedLines, type PasteInput } from '../paste-back.ts'
import { noQrReason, type QrRenderer } from '../qr.ts'

/**
 * The CliLogin options every command shares that are no flag's: cli-login's identity, profile
 * memory and the system seams (the flags' options come from args.ts libraryOptions).
 */
export function baseOptions(ctx: CliContext): CliLoginOptions {
  return {
    ...CLI_APP,
    rememberSettings: true,
    // Already read into the options: the library's children (the browser) must not inherit it.
    system: { ...ctx.system, env: withoutVariable(ctx.system.env, 'CLI_LOGIN_CLIENT_SECRET') },
    signal: ctx.signal,
    onDebug: ctx.debug ? (line) => ctx.err(`debug: ${line}`) : undefined,
    onWarning: (line) => ctx.err(`cli-login: warning: ${line}`),
  }
}

function withoutVariable(env: NodeJS.ProcessEnv, name: string): NodeJS.ProcessEnv {
  if (!(name in env)) return env
  const { [name]: _removed, ...rest } = env
  return rest
}

/** What a login shows and reads besides its flags: the QR encoder (--qr) and the terminal to paste on. */
export interface LoginTerminal {
  qr?: QrRenderer
  /** While waiting for the redirect, addresses pasted here complete the login. */
  pasteFrom?: PasteInput
}

/**
 * What a login tells the user (the URL to open, the device code, a QR code with --qr), printed on
 * stderr, and the addresses pasted on the terminal.
 */
export function loginCallbacks(ctx: CliContext, terminal: LoginTerminal = {}): Pick<CliLoginOptions, 'onDeviceCode' | 'onAuthorizationUrl' | 'pastedAddresses' | 'onPastedAddressRejected'> {
  const { qr, pasteFrom } = terminal
  const waiting = pasteFrom
    ? 'Waiting for the login to complete (Ctrl-C to cancel). If the browser is on another machine, paste here the address it ended on and press Enter:'
    : 'Waiting for the login to complete (Ctrl-C to cancel)...'
  const showQr = (url: string): void => {
    if (qr) printQrCode(ctx, qr, url)
  }
  return {
    onDeviceCode: (device) => {
      const verificationUri = terminalText(device.verificationUri)
      const verificationUriComplete = device.verificationUriComplete === undefined ? undefined : terminalText(device.verificationUriComplete)
      const userCode = terminalText(device.userCode)
      const { browser } = device
      if (browser.opened) ctx.err("Opened the browser at the provider's device login page.")
      showQr(verificationUriComplete ?? verificationUri)
      if (verificationUriComplete) {
        ctx.err(`To log in, open this URL on any device and check that it shows the code ${userCode}:`)
        ctx.err(verificationUriComplete)
        ctx.err(`Or go to ${verificationUri} and enter the code ${userCode}.`)
      } else {
        ctx.err(`To log in, go to this URL on any device and enter the code ${userCode}:`)
        ctx.err(verificationUri)
      }
      ctx.err('Waiting for the login to be approved (Ctrl-C to cancel)...')
    },
    ...(pasteFrom ? { pastedAddresses: pastedLines(pasteFrom), onPastedAddressRejected: ({ message }) => ctx.err(`cli-login: ${message}; paste it again, or finish in the browser.`) } : {}),
    onAuthorizationUrl: ({ url, redirectUri, browser }) => {
      showQr(url)
      if (browser.opened) {
        ctx.err('Opening the browser to log in. If it does not open, visit this URL:')
      } else if (browser.reason === 'ssh' || browser.reason === 'no-display') {
        const port = new URL(redirectUri).port
        const why = browser.reason === 'ssh' ? 'This is an SSH session' : 'There is no display here'
        ctx.err(`${why}, so no browser is opened. Open this URL in a browser on this machine:`)
        ctx.err(url)
        ctx.err(`From another machine, forward the port first (ssh -L ${port}:127.0.0.1:${port} <this host>), or log in with --device${pasteFrom ? ', or paste the address the browser ends on below' : ''}.`)
        ctx.err(waiting)
        return
      } else if (browser.reason === 'failed') {
        ctx.err(`Could not start a browser${browser.detail ? ` (${browser.detail})` : ''}. Open this URL to log in:`)
      } else {
        ctx.err('Open this URL in a browser to log in:')
      }
      ctx.err(url)
      ctx.err(waiting)
    },
  }
}

/** The URL as a QR code on stderr, or the one line saying why there is none. */
export function printQrCode(ctx: CliContext, qr: QrRenderer, url: string): void {
  const why = noQrReason(url)
  if (why) ctx.err(why)
  else for (const line of qr(url)) ctx.err(line)
}

/** Human-readable status lines. */
export function describeStatus(status: SessionStatus, nowS: number): string[] {
  const who = [status.name, status.email ? `<${status.email}>` : undefined].filter(Boolean).join(' ') || status.subject || 'unknown user'
  const lines = [`Logged in to ${status.issuer} as ${terminalText(who)} (profile "${status.profile}")`]
  if (status.expires_at === null) {
    lines.push('Access token: no expiry given by the provider')
  } else {
    const left = status.expires_at - nowS
    const when = rfc3339(status.expires_at)
    lines.push(left > 0 ? `Access token expires ${when} (in ${formatDuration(left)})` : `Access token expired ${when}${status.has_refresh_token ? ' (it is refreshed on the next cli-login token)' : ''}`)
  }
  lines.push(`Refresh token: ${status.has_refresh_token ? 'yes' : 'no'}`)
  if (status.jkt) lines.push(`Tokens bound to this login's key (DPoP, jkt ${status.jkt}): use token --format dpop or cli-login fetch`)
  if (status.audience) lines.push(`Audience: ${status.audience}`)
  if (status.scope) lines.push(`Scope: ${terminalText(status.scope)}`)
  lines.push(`Storage: ${status.storage}`)
  return lines
}

function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}
