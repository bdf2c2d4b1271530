/**
 * Real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) going through the
 * demo provider's pages by their ids: sign-in (#username, #password, #sign-in, #cancel), consent
 * (#allow, #deny), device code entry (#user-code, #continue) and device confirmation (#confirm, #abort).
 */
import { chromium, type Browser, type Page, type Request, type Response } from 'playwright-core'
import type { HttpLoginOptions } from './http-browser.ts'

const STEP_TIMEOUT_MS = 20_000
/** The provider may be served over https with a private CA that Chromium does not know (NODE_EXTRA_CA_CERTS is Node's). */
const CONTEXT_OPTIONS = { ignoreHTTPSErrors: true }

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  })
}

/** In a fresh context: go to url, sign in with the demo form, press allow/deny/cancel, wait until the browser lands on a page outside the provider origin (the loopback callback page) and return that page's { url, status, text } (text = document.body.innerText). */
export async function loginInChromium(
  browser: Browser,
  url: string,
  options: HttpLoginOptions,
): Promise<{ url: string; status: number; text: string }> {
  const providerOrigin = new URL(url).origin
  const context = await browser.newContext(CONTEXT_OPTIONS)
  let timer: NodeJS.Timeout | undefined
  try {
    const page = await context.newPage()
    const isCallback = (request: Request): boolean => request.isNavigationRequest()
      && request.frame() === page.mainFrame()
      && new URL(request.url()).origin !== providerOrigin
    const left = new Promise<Response>((resolve, reject) => {
      page.on('response', (response) => {
        if (isCallback(response.request())) resolve(response)
      })
      page.on('requestfailed', (request) => {
        if (isCallback(request)) reject(new Error(`the callback ${request.url()} could not be loaded: ${request.failure()?.errorText}`))
      })
      timer = setTimeout(() => reject(new Error(`no redirect to the callback within ${STEP_TIMEOUT_MS * 3} ms`)), STEP_TIMEOUT_MS * 3)
    })
    left.catch(() => undefined)
    const leftOrNothing = left.then(() => 'left' as const, () => 'left' as const)

    await page.goto(url)
    if (await waitForAny(page, ['#username'], leftOrNothing) === 'left') return await callbackPage(page, left)

    await page.fill('#username', options.username)
    await page.fill('#password', options.password)
    if (options.action === 'cancel') {
      await page.click('#cancel')
      return await callbackPage(page, left)
    }
    await page.click('#sign-in')

    const next = await waitForAny(page, ['#allow', '#error'], leftOrNothing)
    if (next === 'left') return await callbackPage(page, left)
    if (next === '#error') throw new Error(`sign-in failed for ${options.username}: ${await page.innerText('#error')}`)
    await page.click(options.action === 'deny' ? '#deny' : '#allow')
    return await callbackPage(page, left)
  } finally {
    clearTimeout(timer)
    await context.close()
  }
}

export async function approveDeviceInChromium(
  browser: Browser,
  verificationUri: string,
  options: HttpLoginOptions & { userCode?: string },
): Promise<void> {
  const action = options.action ?? 'allow'
  const context = await browser.newContext(CONTEXT_OPTIONS)
  try {
    const page = await context.newPage()
    await page.goto(verificationUri)

    // verification_uri_complete lands on the confirmation (after oidc-provider's self-submitting form).
    const first = await waitForAny(page, ['#confirm', '#user-code'])
    if (first === '#user-code') {
      if (!options.userCode) throw new Error('verification page asks for the user code: pass userCode')
      await page.fill('#user-code', options.userCode)
      await page.click('#continue')
      const confirmation = await waitForAny(page, ['#confirm', '#error'])
      if (confirmation === '#error') throw new Error(`user code rejected: ${await page.innerText('#error')}`)
    }
    await page.click('#confirm')

    await waitForAny(page, ['#username'])
    await page.fill('#username', options.username)
    await page.fill('#password', options.password)
    if (action === 'cancel') {
      await page.click('#cancel')
      await waitForAny(page, ['body[data-error]'])
      return
    }
    await page.click('#sign-in')
    const consent = await waitForAny(page, ['#allow', '#error'])
    if (consent === '#error') throw new Error(`sign-in failed for ${options.username}: ${await page.innerText('#error')}`)

    await page.click(action === 'deny' ? '#deny' : '#allow')
    const next = await waitForAny(page, ['#device-success', 'body[data-error]'])
    if (action === 'allow' && next !== '#device-success') {
      throw new Error(`device login not approved: ${await page.innerText('body')}`)
    }
    if (action === 'deny' && next === '#device-success') throw new Error('device login was approved although action was deny')
  } finally {
    await context.close()
  }
}

/** Resolves with the first selector that becomes visible (or 'left' when `left` settles first). */
export async function waitForAny<S extends string>(page: Page, selectors: S[], left?: Promise<'left'>): Promise<S | 'left'> {
  const waits: Array<Promise<S | 'left'>> = selectors.map((selector) => page
    .locator(selector)
    .first()
    .waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS })
    .then(() => selector))
  if (left) waits.push(left)
  for (const wait of waits) wait.catch(() => undefined)
  try {
    return await Promise.any(waits)
  } catch {
    throw new Error(`none of ${selectors.join(', ')} appeared on ${page.url()}: ${(await page.innerText('body').catch(() => '')).slice(0, 300)}`)
  }
}

async function callbackPage(page: Page, left: Promise<Response>): Promise<{ url: string; status: number; text: string }> {
  const response = await left
  await page.waitForLoadState('load')
  const text = await page.evaluate(() => document.body?.innerText ?? '')
  return { url: page.url(), status: response.status(), text }
}

/**
 * Chromium as if on another machine: its requests go through `network` (a proxy standing for that
 * machine's network, see elsewhere-network.ts), loopback included, so this machine's 127.0.0.1 is
 * reached only where that network says (the provider) and the CLI's port is not.
 */
export function launchChromiumElsewhere(network: { proxyUrl: string }): Promise<Browser> {
  // <-loopback>: Chromium otherwise never proxies 127.0.0.1 and localhost.
  return launchChromium([`--proxy-server=${network.proxyUrl}`, '--proxy-bypass-list=<-loopback>'])
}

/**
 * On a browser from launchChromiumElsewhere: signs in with the demo form, allows, and returns the
 * address the browser ended on when the redirect to `unreachableOrigin` failed — the one in its
 * address bar, which the user copies.
 */
export async function loginInChromiumElsewhere(browser: Browser, url: string, options: HttpLoginOptions, unreachableOrigin: string): Promise<string> {
  const context = await browser.newContext(CONTEXT_OPTIONS)
  try {
    const page = await context.newPage()
    const refused = new Promise<string>((resolve) => {
      page.on('requestfailed', (request) => {
        if (request.isNavigationRequest() && new URL(request.url()).origin === unreachableOrigin) resolve(request.url())
      })
    })
    const ended = refused.then(() => 'left' as const)
    await page.goto(url)
    if (await waitForAny(page, ['#username'], ended) !== 'left') {
      await page.fill('#username', options.username)
      await page.fill('#password', options.password)
      await page.click('#sign-in')
      if (await waitForAny(page, ['#allow'], ended) !== 'left') await page.click('#allow')
    }
    return await withTimeout(refused, STEP_TIMEOUT_MS, `the browser did not end on ${unreachableOrigin}`)
  } finally {
    await context.close()
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
