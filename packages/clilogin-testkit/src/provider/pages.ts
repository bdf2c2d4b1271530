/**
 * Every HTML page the provider shows: the layout, the pages oidc-provider renders through its
 * configuration helpers (errors, device flow, logout), and the sign-in and consent pages of the
 * interactions (interactions.ts). Self-contained: inline style, no script, a strict CSP.
 */
import type { InteractionDetails, KoaContext } from './oidc-provider.ts'
import { findUser, type Kit } from './kit.ts'
import { stringParam } from './http.ts'
import { ROUTES } from './routes.ts'
import type { DemoUser } from './types.ts'

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Sign you in with your demo account',
  profile: 'See your name and username',
  email: 'See your email address',
  offline_access: 'Stay signed in (refresh tokens) until you log out',
  'read:me': 'Read your profile through the demo API',
}
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"

function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#eef1f6;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933}
main{background:#fff;width:100%;max-width:400px;margin:24px;padding:32px 32px 24px;border-radius:12px;
box-shadow:0 10px 30px rgba(31,41,51,.12)}
.brand{font-size:13px;letter-spacing:.06em;text-transform:uppercase;color:#52606d;margin:0 0 8px}
h1{font-size:22px;margin:0 0 16px}
p{line-height:1.5;margin:0 0 14px}
label{display:block;font-size:14px;font-weight:600;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;height:42px;padding:0 12px;font-size:16px;border:1px solid #cbd2d9;border-radius:8px}
input:focus{outline:2px solid #3e7bfa;border-color:#3e7bfa}
.actions{display:flex;flex-direction:row-reverse;gap:10px;margin-top:20px}
button{flex:1;height:42px;font-size:15px;font-weight:600;border-radius:8px;border:1px solid #cbd2d9;background:#fff;color:#1f2933;cursor:pointer}
button.primary{background:#3e7bfa;border-color:#3e7bfa;color:#fff}
button:hover{filter:brightness(.95)}
.error{background:#fde8e8;color:#9b1c1c;border-radius:8px;padding:10px 12px;font-size:14px}
.hint{background:#f5f7fa;border-radius:8px;padding:10px 12px;font-size:13px;color:#52606d;margin-top:18px}
.hint code,.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.code{display:block;text-align:center;font-size:28px;letter-spacing:.12em;margin:8px 0 16px}
ul{padding-left:20px;margin:0 0 14px}li{margin:4px 0}
`

function renderPage(ctx: KoaContext, options: { page: string; title: string; content: string; status?: number; error?: string }): void {
  ctx.status = options.status ?? 200
  ctx.set('Content-Type', 'text/html; charset=utf-8')
  ctx.set('Content-Security-Policy', PAGE_CSP)
  ctx.set('Cache-Control', 'no-store')
  ctx.set('X-Frame-Options', 'DENY')
  const errorAttribute = options.error ? ` data-error="${escapeHtml(options.error)}"` : ''
  ctx.body = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)} · cli-login demo</title>
<style>${STYLE}</style>
</head>
<body data-page="${escapeHtml(options.page)}"${errorAttribute}>
<main>
<p class="brand">cli-login demo identity provider</p>
${options.content}
</main>
</body>
</html>`
}

function credentialsHint(users: readonly DemoUser[]): string {
  const list = users.map((user) => `<code>${escapeHtml(user.username)}</code> / <code>${escapeHtml(user.password)}</code>`).join(', ')
  return `<p class="hint" id="demo-credentials">Demo accounts: ${list}</p>`
}

// --- pages rendered by oidc-provider through configuration helpers --------------------------

export async function renderError(ctx: KoaContext, out: { error?: string; error_description?: string }): Promise<void> {
  renderPage(ctx, {
    page: 'error',
    title: 'Something went wrong',
    status: ctx.status,
    error: out.error,
    content: `<h1>Something went wrong</h1>
<p class="error" id="error"><strong>${escapeHtml(out.error)}</strong>${out.error_description ? `: ${escapeHtml(out.error_description)}` : ''}</p>
<p>Go back to your terminal and start the login again.</p>`,
  })
}

function hiddenFormValue(form: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(form)?.[1]
}

function formAction(form: string): string | undefined {
  return /action="([^"]*)"/.exec(form)?.[1]
}

export async function userCodeInputSource(
  ctx: KoaContext,
  form: string,
  out?: { error?: string; error_description?: string },
  err?: Error & { userCode?: string },
): Promise<void> {
  let message = '<p>Enter the code shown in your terminal.</p>'
  if (err && (err.userCode || err.name === 'NoCodeError')) {
    message = '<p class="error" id="error">That code is not valid or has expired. Check it and try again.</p>'
  } else if (err && err.name === 'AbortedError') {
    message = '<p class="error" id="error">The device login was cancelled. You can close this window.</p>'
  } else if (out?.error === 'access_denied') {
    message = '<p class="error" id="error">The device login was denied. You can close this window.</p>'
  } else if (out?.error) {
    message = `<p class="error" id="error">${escapeHtml(out.error_description ?? out.error)}</p>`
  }
  const xsrf = hiddenFormValue(form, 'xsrf')
  const action = formAction(form)
  const formHtml = xsrf !== undefined && action !== undefined
    ? `<form id="user-code-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<label for="user-code">Code</label>
<input type="text" id="user-code" name="user_code" placeholder="XXXX-XXXX" autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus>
<div class="actions"><button type="submit" id="continue" class="primary">Continue</button></div>
</form>`
    : `${form}<div class="actions"><button type="submit" id="continue" class="primary" form="op.deviceInputForm">Continue</button></div>`
  renderPage(ctx, {
    page: 'user-code',
    title: 'Connect a device',
    status: ctx.status || 200,
    error: out?.error ?? (err ? err.name : undefined),
    content: `<h1>Connect a device</h1>${message}${formHtml}`,
  })
}

export async function userCodeConfirmSource(
  ctx: KoaContext,
  form: string,
  client: { clientId: string; clientName?: string },
  _deviceInfo: unknown,
  userCode: string,
): Promise<void> {
  const xsrf = hiddenFormValue(form, 'xsrf') ?? ''
  const action = formAction(form) ?? ROUTES.code_verification
  renderPage(ctx, {
    page: 'device-confirm',
    title: 'Confirm the device',
    content: `<h1>Confirm the device</h1>
<p><strong>${escapeHtml(client.clientName ?? client.clientId)}</strong> wants to sign in on a device.</p>
<p>Check that your terminal shows this code:</p>
<span class="code" id="device-user-code">${escapeHtml(userCode)}</span>
<form id="device-confirm-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<input type="hidden" name="user_code" value="${escapeHtml(userCode)}">
<div class="actions">
<button type="submit" id="confirm" name="confirm" value="yes" class="primary" autofocus>Continue</button>
<button type="submit" id="abort" name="abort" value="yes">Cancel</button>
</div>
</form>
<p class="hint">If you did not start this login, or the code does not match, press Cancel.</p>`,
  })
}

export async function deviceSuccessSource(ctx: KoaContext): Promise<void> {
  const client = ctx.oidc?.client
  renderPage(ctx, {
    page: 'device-success',
    title: 'Device connected',
    content: `<h1 id="device-success">Device connected</h1>
<p>You signed in${client ? ` to <strong>${escapeHtml(client.clientName ?? client.clientId)}</strong>` : ''}. You can close this window and go back to your terminal.</p>`,
  })
}

export async function logoutSource(ctx: KoaContext, form: string): Promise<void> {
  const xsrf = hiddenFormValue(form, 'xsrf') ?? ''
  const action = formAction(form) ?? `${ROUTES.end_session}/confirm`
  renderPage(ctx, {
    page: 'logout',
    title: 'Sign out',
    content: `<h1>Sign out?</h1>
<p>Do you want to sign out of the demo identity provider?</p>
<form id="logout-form" method="post" action="${action}">
<input type="hidden" name="xsrf" value="${xsrf}">
<div class="actions">
<button type="submit" id="logout" name="logout" value="yes" class="primary" autofocus>Sign out</button>
<button type="submit" id="stay">Stay signed in</button>
</div>
</form>`,
  })
}

export async function postLogoutSuccessSource(ctx: KoaContext): Promise<void> {
  renderPage(ctx, {
    page: 'logout-success',
    title: 'Signed out',
    content: '<h1 id="logout-success">Signed out</h1><p>You are signed out of the demo identity provider. You can close this window.</p>',
  })
}

// --- interaction pages (sign-in, consent) ---------------------------------------------------

export function signInPage(ctx: KoaContext, kit: Kit, details: InteractionDetails, clientName: string, failure?: { username: string }): void {
  const { prefillUser, users } = kit
  const hinted = stringParam(details.params, 'login_hint')
  const username = failure?.username ?? prefillUser?.username ?? hinted ?? ''
  const password = failure ? '' : (prefillUser?.password ?? '')
  renderPage(ctx, {
    page: 'sign-in',
    title: 'Sign in',
    error: failure ? 'invalid_credentials' : undefined,
    content: `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientName)}</strong></p>
${failure ? '<p class="error" id="error">Wrong username or password. Try again.</p>' : ''}
<form id="sign-in-form" method="post" action="/interaction/${escapeHtml(details.uid)}/login" autocomplete="off">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" required${username ? '' : ' autofocus'}>
<label for="password">Password</label>
<input type="password" id="password" name="password" value="${escapeHtml(password)}" autocomplete="current-password" required${username ? ' autofocus' : ''}>
<div class="actions">
<button type="submit" id="sign-in" name="action" value="sign-in" class="primary">Sign in</button>
<button type="submit" id="cancel" name="action" value="cancel" formnovalidate>Cancel</button>
</div>
</form>
${credentialsHint(users)}`,
  })
}

export function consentPage(ctx: KoaContext, kit: Kit, details: InteractionDetails, clientName: string): void {
  const user = details.session?.accountId ? findUser(kit, details.session.accountId) : undefined
  const requested = (stringParam(details.params, 'scope') ?? '').split(' ').filter(Boolean)
  const resource = stringParam(details.params, 'resource') ?? stringParam(details.params, 'audience')
  const items = requested.map((scope) => `<li>${escapeHtml(SCOPE_DESCRIPTIONS[scope] ?? scope)}</li>`)
  if (resource) items.push(`<li>Call the API <code>${escapeHtml(resource)}</code> as you</li>`)
  renderPage(ctx, {
    page: 'consent',
    title: 'Allow access',
    content: `<h1>Allow access?</h1>
<p><strong>${escapeHtml(clientName)}</strong> wants to${user ? ` use your account <strong>${escapeHtml(user.email)}</strong> to` : ''}:</p>
<ul id="scopes">${items.join('') || '<li>Sign you in</li>'}</ul>
<form id="consent-form" method="post" action="/interaction/${escapeHtml(details.uid)}/confirm">
<div class="actions">
<button type="submit" id="allow" name="action" value="allow" class="primary" autofocus>Allow</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</div>
</form>`,
  })
}

export function interactionErrorPage(ctx: KoaContext, error: unknown): void {
  const name = error instanceof Error ? error.name : ''
  const expired = name === 'SessionNotFound'
  renderPage(ctx, {
    page: 'error',
    title: 'Sign-in expired',
    status: 400,
    error: expired ? 'invalid_request' : 'server_error',
    content: `<h1>This sign-in cannot continue</h1>
<p class="error" id="error">${expired
      ? 'This sign-in page has expired or was already used.'
      : 'The sign-in could not be processed.'}</p>
<p>Go back to your terminal and start the login again.</p>`,
  })
}
