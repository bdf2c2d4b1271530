/**
 * The browser double: a "browser" made of plain HTTP requests (kubelogin's httpdriver idea). It
 * follows the test provider's redirects with a cookie jar and submits the sign-in, consent and
 * device forms the provider renders (it recognises them by `<body data-page="…">` and element ids),
 * so a test of a CLI's login needs no real browser. Uses the global fetch, so NODE_EXTRA_CA_CERTS is
 * honoured for a provider served over https.
 */

/** The sign-in or device approval went somewhere the double did not expect (a test failure, not a login outcome). */
export class BrowserDoubleError extends Error {
  override readonly name = 'BrowserDoubleError'
}

import { DEMO_USERS } from './provider/index.ts'

export interface HttpLoginOptions {
  username: string
  password: string
  /** allow (default); deny = press Deny on the consent page; cancel = press Cancel on the sign-in page. */
  action?: 'allow' | 'deny' | 'cancel'
}

/** The loopback redirect's answer, as the browser got it (the tool's success or failure page). */
export interface CallbackResponse { url: string; status: number; body: string; headers: Headers }

const MAX_STEPS = 30

/** Follows the authorization URL through sign-in and consent with a cookie jar; when the provider redirects outside its own origin (to the loopback redirect URI), GETs that URL and returns its response. */
export async function loginOverHttp(authorizationUrl: string, options: HttpLoginOptions): Promise<CallbackResponse> {
  const callbackUrl = await authorizeOverHttp(authorizationUrl, options)
  const response = await fetch(callbackUrl, { redirect: 'manual' })
  return { url: callbackUrl, status: response.status, body: await response.text(), headers: response.headers }
}

/** Like loginOverHttp but stops before requesting the loopback callback and returns that URL (tests then tamper with it). */
export async function authorizeOverHttp(authorizationUrl: string, options: HttpLoginOptions): Promise<string> {
  const browser = new HttpBrowser(authorizationUrl)
  let page = await browser.open(authorizationUrl)
  let signInAttempted = false
  for (let step = 0; step < MAX_STEPS; step++) {
    if (page.left) return page.url.href
    switch (page.name) {
      case 'sign-in':
        if (signInAttempted) throw new BrowserDoubleError(`sign-in failed for ${options.username}: ${page.text}`)
        signInAttempted = true
        page = await submitSignIn(browser, page, options)
        break
      case 'consent':
        page = await browser.submit(page, 'consent-form', options.action === 'deny' ? 'deny' : 'allow')
        break
      default:
        throw unexpectedPage(page)
    }
  }
  throw new BrowserDoubleError(`no redirect to the client after ${MAX_STEPS} steps`)
}

/** Approves (or denies) a device login: opens verification_uri_complete (or verification_uri + typing userCode), signs in, confirms. */
export async function approveDeviceOverHttp(
  verificationUri: string,
  options: HttpLoginOptions & { userCode?: string },
): Promise<void> {
  const action = options.action ?? 'allow'
  const browser = new HttpBrowser(verificationUri)
  let page = await browser.open(verificationUri)
  let codeSubmitted = false
  let signInAttempted = false
  for (let step = 0; step < MAX_STEPS; step++) {
    if (page.left) throw new BrowserDoubleError(`the device verification left the provider for ${page.url.href}`)
    switch (page.name) {
      case undefined: {
        // oidc-provider's self-submitting form (verification_uri_complete carries the user code).
        const form = page.forms[0]
        if (!form) throw unexpectedPage(page)
        page = await browser.submitForm(page, form)
        break
      }
      case 'user-code': {
        if (codeSubmitted) {
          if (action !== 'allow' && page.error !== undefined) return
          throw new BrowserDoubleError(`device login not approved: ${page.text}`)
        }
        if (!options.userCode) throw new BrowserDoubleError('verification page asks for the user code: pass userCode')
        codeSubmitted = true
        page = await browser.submit(page, 'user-code-form', 'continue', { user_code: options.userCode })
        break
      }
      case 'device-confirm':
        codeSubmitted = true
        page = await browser.submit(page, 'device-confirm-form', 'confirm')
        break
      case 'sign-in':
        if (signInAttempted) throw new BrowserDoubleError(`sign-in failed for ${options.username}: ${page.text}`)
        signInAttempted = true
        page = await submitSignIn(browser, page, options)
        break
      case 'consent':
        page = await browser.submit(page, 'consent-form', action === 'deny' ? 'deny' : 'allow')
        break
      case 'device-success':
        if (action === 'allow') return
        throw new BrowserDoubleError(`device login was approved although action was ${action}`)
      case 'error':
        if (action !== 'allow' && page.error === 'access_denied') return
        throw unexpectedPage(page)
      default:
        throw unexpectedPage(page)
    }
  }
  throw new BrowserDoubleError(`device verification did not finish after ${MAX_STEPS} steps`)
}

/** What `openBrowser` resolves with: the shape cli-login's `openBrowser` option expects. */
export interface BrowserDoubleOpenResult { opened: true; command: string }

export interface BrowserDouble {
  /**
   * The tool's browser opener (cli-login's `openBrowser` option): starts signing in at the URL in
   * the background and resolves at once, as a real browser launcher does.
   */
  readonly openBrowser: (url: string) => Promise<BrowserDoubleOpenResult>
  /** Every URL the tool opened, in order. */
  readonly urls: readonly string[]
  /** Waits for every sign-in started so far: their loopback responses, or the first BrowserDoubleError. */
  settled(): Promise<CallbackResponse[]>
}

/**
 * A browser double for a tool's login: `new CliLogin({ …, openBrowser: browser.openBrowser })`.
 * Signs in as `username`/`password` (default: the first demo user, alice) and allows, denies or
 * cancels (`action`).
 */
export function createBrowserDouble(options: Partial<HttpLoginOptions> = {}): BrowserDouble {
  const [alice] = DEMO_USERS
  const login: HttpLoginOptions = {
    username: options.username ?? alice.username,
    password: options.password ?? (options.username === undefined ? alice.password : ''),
    ...(options.action === undefined ? {} : { action: options.action }),
  }
  const urls: string[] = []
  const visits: Array<Promise<CallbackResponse>> = []
  return {
    urls,
    async openBrowser(url) {
      urls.push(url)
      const visit = loginOverHttp(url, login)
      // Kept for settled(); a failure nobody asks about must not crash the test run.
      visit.catch(() => {})
      visits.push(visit)
      return { opened: true, command: 'clilogin-testkit browser double' }
    },
    settled: () => Promise.all(visits),
  }
}

function submitSignIn(browser: HttpBrowser, page: Page, options: HttpLoginOptions): Promise<Page> {
  if (options.action === 'cancel') return browser.submit(page, 'sign-in-form', 'cancel')
  return browser.submit(page, 'sign-in-form', 'sign-in', { username: options.username, password: options.password })
}

function unexpectedPage(page: Page): Error {
  return new BrowserDoubleError(`unexpected provider page (HTTP ${page.status}, ${page.name ?? 'unnamed'}) at ${page.url.href}: ${page.text.slice(0, 300)}`)
}

// ---------------------------------------------------------------------------------------------

interface Form {
  id?: string
  action: string
  method: string
  /** Named inputs in document order (hidden, text, password). */
  fields: Array<[string, string]>
  buttons: Array<{ id?: string; name?: string; value?: string }>
}

interface Page {
  url: URL
  status: number
  /** True when the provider redirected outside its own origin: url is that target, nothing was requested. */
  left: boolean
  /** `data-page` of the body, undefined for pages without one. */
  name?: string
  /** `data-error` of the body. */
  error?: string
  forms: Form[]
  /** Visible text, roughly, for error messages. */
  text: string
}

class HttpBrowser {
  readonly #origin: string
  readonly #jar = new CookieJar()

  constructor(startUrl: string) {
    this.#origin = new URL(startUrl).origin
  }

  open(url: string): Promise<Page> {
    return this.#navigate(new URL(url), 'GET')
  }

  submit(page: Page, formId: string, buttonId: string, values: Record<string, string> = {}): Promise<Page> {
    const form = page.forms.find((candidate) => candidate.id === formId)
    if (!form) throw new BrowserDoubleError(`no form#${formId} on ${page.name ?? 'the page'} at ${page.url.href}`)
    const button = form.buttons.find((candidate) => candidate.id === buttonId)
    if (!button) throw new BrowserDoubleError(`no button#${buttonId} in form#${formId}`)
    return this.submitForm(page, form, button, values)
  }

  submitForm(page: Page, form: Form, button?: Form['buttons'][number], values: Record<string, string> = {}): Promise<Page> {
    const body = new URLSearchParams()
    const pending = new Map(Object.entries(values))
    for (const [name, value] of form.fields) {
      if (pending.has(name)) {
        body.append(name, pending.get(name) ?? '')
        pending.delete(name)
      } else {
        body.append(name, value)
      }
    }
    for (const [name, value] of pending) body.append(name, value)
    if (button?.name) body.append(button.name, button.value ?? '')
    const target = new URL(form.action || page.url.href, page.url)
    return form.method === 'get'
      ? this.#navigate(new URL(`${target.origin}${target.pathname}?${body.toString()}`), 'GET')
      : this.#navigate(target, 'POST', body)
  }

  async #navigate(start: URL, startMethod: 'GET' | 'POST', startBody?: URLSearchParams): Promise<Page> {
    let url = start
    let method = startMethod
    let body = startBody
    for (let redirects = 0; redirects < MAX_STEPS; redirects++) {
      if (url.origin !== this.#origin) return { url, status: 0, left: true, forms: [], text: '' }
      const headers = new Headers({ accept: 'text/html' })
      const cookie = this.#jar.header(url)
      if (cookie) headers.set('cookie', cookie)
      if (body) headers.set('content-type', 'application/x-www-form-urlencoded')
      const response = await fetch(url, { method, headers, body, redirect: 'manual' })
      this.#jar.store(url, response.headers)
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel()
        url = new URL(location, url)
        method = 'GET'
        body = undefined
        continue
      }
      const html = await response.text()
      const bodyTag = /<body\b([^>]*)>/i.exec(html)
      const bodyAttributes = bodyTag ? parseAttributes(bodyTag[1]) : {}
      return {
        url,
        status: response.status,
        left: false,
        name: bodyAttributes['data-page'],
        error: bodyAttributes['data-error'],
        forms: parseForms(html),
        text: visibleText(html),
      }
    }
    throw new BrowserDoubleError(`too many redirects from ${start.href}`)
  }
}

class CookieJar {
  readonly #cookies = new Map<string, { host: string; path: string; name: string; value: string }>()

  store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';')
      const separator = pair.indexOf('=')
      if (separator <= 0) continue
      const name = pair.slice(0, separator).trim()
      const value = pair.slice(separator + 1).trim()
      let path = '/'
      let expired = false
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=')
        const key = rawKey.trim().toLowerCase()
        const attributeValue = rest.join('=').trim()
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue
        if (key === 'max-age' && Number(attributeValue) <= 0) expired = true
        if (key === 'expires' && Date.parse(attributeValue) <= Date.now()) expired = true
      }
      const key = `${url.host} ${path} ${name}`
      if (expired) this.#cookies.delete(key)
      else this.#cookies.set(key, { host: url.host, path, name, value })
    }
  }

  header(url: URL): string | undefined {
    const matching = [...this.#cookies.values()].filter((cookie) => cookie.host === url.host
      && (url.pathname === cookie.path
        || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)))
    return matching.length ? matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ') : undefined
  }
}

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_match, entity: string) => {
    const lower = entity.toLowerCase()
    if (lower.startsWith('#x')) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16))
    if (lower.startsWith('#')) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10))
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? ''
  })
}

function parseAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {}
  const pattern = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g
  for (const match of source.matchAll(pattern)) {
    attributes[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '')
  }
  return attributes
}

function parseForms(html: string): Form[] {
  const forms: Form[] = []
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = parseAttributes(match[1])
    const inner = match[2]
    const fields: Form['fields'] = []
    for (const input of inner.matchAll(/<input\b([^>]*?)\/?>/gi)) {
      const inputAttributes = parseAttributes(input[1])
      const type = (inputAttributes.type ?? 'text').toLowerCase()
      if (!inputAttributes.name || ['submit', 'button', 'image', 'reset'].includes(type)) continue
      if ((type === 'checkbox' || type === 'radio') && !('checked' in inputAttributes)) continue
      fields.push([inputAttributes.name, inputAttributes.value ?? ''])
    }
    const buttons: Form['buttons'] = []
    for (const button of inner.matchAll(/<button\b([^>]*)>/gi)) {
      const buttonAttributes = parseAttributes(button[1])
      if ((buttonAttributes.type ?? 'submit').toLowerCase() !== 'submit') continue
      buttons.push({ id: buttonAttributes.id, name: buttonAttributes.name, value: buttonAttributes.value })
    }
    forms.push({
      id: attributes.id,
      action: attributes.action ?? '',
      method: (attributes.method ?? 'get').toLowerCase(),
      fields,
      buttons,
    })
  }
  return forms
}

function visibleText(html: string): string {
  return decodeEntities(html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim()
}
