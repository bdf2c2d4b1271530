/**
 * The HTML pages the loopback server answers the browser with. Pure: no I/O.
 *
 * Pages are self-contained (inline CSS, no scripts, no external resources) so they render under
 * PAGE_CONTENT_SECURITY_POLICY, and every value shown is HTML-escaped: parts of them come from the
 * query string of the redirect, which anyone can craft.
 */

export interface SuccessPageInfo {
  /** The embedding tool's name as shown to people (its displayName). */
  displayName: string
  issuer: string
  name?: string
  email?: string
  subject?: string
}

export interface FailurePageInfo {
  /** The embedding tool's name as shown to people (its displayName). */
  displayName: string
  error: string
  errorDescription?: string
}

export interface LoginPages {
  /** A full HTML document telling the user the login worked. */
  success(info: SuccessPageInfo): string
  /** A full HTML document telling the user the login (or this request) failed. */
  failure(info: FailurePageInfo): string
}

/**
 * Sent with every loopback response. No scripts at all (default-src 'none' and no script-src);
 * inline styles only; `data:` images only (the page's empty favicon, so the browser does not ask
 * the server for /favicon.ico); no framing, no form posts, no <base>.
 */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for use in HTML element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)
}

/** Longest text shown from a single value; the query string is attacker-controlled. */
const MAX_SHOWN_CHARS = 2000

function shown(text: string): string {
  const clipped = text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}…` : text
  return escapeHtml(clipped)
}

const STYLE = `
  :root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #f6f8fa; --card: #ffffff; --border: #d1d9e0; }
  @media (prefers-color-scheme: dark) {
    :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --card: #151b23; --border: #3d444d; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
    background: var(--bg); color: var(--fg);
    font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  main { max-width: 32rem; margin: 1.5rem; padding: 2rem; background: var(--card);
    border: 1px solid var(--border); border-radius: 12px; }
  .mark { width: 3rem; height: 3rem; border-radius: 50%; display: flex; align-items: center;
    justify-content: center; font-size: 1.6rem; font-weight: 700; color: #fff; margin-bottom: 1rem; }
  .ok { background: #1f883d; }
  .fail { background: #cf222e; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  p { margin: .5rem 0; }
  .muted { color: var(--muted); }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
  .detail, .who { overflow-wrap: anywhere; }
`

function document(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}

const CLOSE_HINT = '<p class="muted">You can close this window and return to the terminal.</p>'

function successPage(info: SuccessPageInfo): string {
  const who = info.name ?? info.email ?? info.subject
  const also = info.name !== undefined && info.email !== undefined ? ` (${shown(info.email)})` : ''
  const identity =
    who !== undefined && who !== ''
      ? `<p class="who">Signed in as <strong>${shown(who)}</strong>${also}.</p>`
      : ''
  return document(
    `${info.displayName}: logged in`,
    `<div class="mark ok" aria-hidden="true">&#10003;</div>
<h1>You are logged in to ${shown(info.displayName)}</h1>
${identity}
<p class="detail muted">Identity provider: <code>${shown(info.issuer)}</code></p>
${CLOSE_HINT}`,
  )
}

function failurePage(info: FailurePageInfo): string {
  const description =
    info.errorDescription !== undefined && info.errorDescription !== ''
      ? `<p class="detail">${shown(info.errorDescription)}</p>`
      : ''
  return document(
    `${info.displayName}: login failed`,
    `<div class="mark fail" aria-hidden="true">!</div>
<h1>${shown(info.displayName)} login failed</h1>
<p class="detail">Error: <code>${shown(info.error)}</code></p>
${description}
${CLOSE_HINT}`,
  )
}

export const defaultPages: LoginPages = Object.freeze({
  success: successPage,
  failure: failurePage,
})
