/**
 * Real headless Chromium through glewlwyd's own login web app (a React single-page app served by
 * glewlwyd from its static files; English when the browser's language is English, which headless
 * Chromium's is). Launch the browser with launchChromium() from ./chromium.ts.
 *
 * How a browser signs in there (glewlwyd 2.7.5, seen with these helpers):
 * 1. <issuer>/auth?… answers 302 to /login.html?client_id=…&scope=…&callback_url=<the /auth URL>.
 * 2. Sign-in form: #username, #password, submit #loginbut ("OK") → POST /api/auth/ {username, password}
 *    (JSON; 200 sets the session cookie GLEWLWYD2_SESSION_ID, 401 on a wrong password).
 * 3. First time this user meets this client: "Client access grant" — one checkbox per requested scope
 *    the user holds (#grant-<scope>; `openid` is pre-checked and disabled, the others UNchecked),
 *    button "Grant access" → PUT /api/auth/grant/<client_id> {"scope":"openid profile email"}.
 *    Only checked scopes are granted. The grant is stored per user and client: next time this step
 *    is skipped.
 * 4. "Connection to <client name> — What do you wish for?": button "Continue" (title "Continue to client
 *    application") → GET <the /auth URL>&g_continue → 302 to redirect_uri?code=…&state=… (or
 *    ?error=… for a refused request, e.g. an openid request without nonce).
 * Device flow: verification_uri (<issuer>/device) → /login.html?…&prompt=device: a text input
 * (placeholder "X1Y2-A3B4", maxlength 9) and "OK" → <issuer>/device?code=<user code> → the same
 * sign-in, grant and "Continue" steps as above → <issuer>/device?code=…&g_continue → a result page
 * of the web app: /login.html?prompt=deviceComplete. verification_uri_complete (…/device?code=…) skips
 * the code entry. An unknown or expired user code lands on /login.html?…&prompt=deviceCodeError, shown
 * as "scope parameter is missing / Invalid login URL". A wrong password: POST /api/auth/ → 401 and an
 * "Authentication error" notice. An unregistered redirect_uri or unknown client_id: /auth answers
 * HTTP 403 with an empty body (no redirect, the browser shows its own error page).
 */
import type { Page, Request } from 'playwright-core'
import { waitForAny } from './chromium.ts'

const STEP_TIMEOUT_MS = 20_000

export interface GlewlwydBrowserUser {
  username: string
  password: string
}

const SELECTORS = {
  username: '#username',
  password: '#password',
  signIn: '#loginbut',
  grantBoxes: 'input[type=checkbox][id^="grant-"]',
  continue: 'button.btn-success[title="Continue to client application"]',
  deviceCode: 'input[placeholder="X1Y2-A3B4"]',
} as const

/**
 * Opens authorizationUrl in `page`, signs in, grants every scope asked for and continues, until the
 * browser navigates away from the provider's origin (the loopback callback). Returns that callback URL
 * (the code or error is in it) and the HTTP status of the callback page, or `status: undefined` when
 * nothing answered there (no listener on the port). Throws with the page's text when stuck.
 */
export async function signInWithChromium(
  page: Page,
  authorizationUrl: string,
  user: GlewlwydBrowserUser,
): Promise<{ callbackUrl: string; status: number | undefined }> {
  const providerOrigin = new URL(authorizationUrl).origin
  const isCallback = (request: Request): boolean => request.isNavigationRequest()
    && request.frame() === page.mainFrame()
    && !request.url().startsWith(providerOrigin + '/')
    && /^https?:/.test(request.url())
  let timer: NodeJS.Timeout | undefined
  const left = new Promise<{ callbackUrl: string; status: number | undefined }>((resolve, reject) => {
    page.on('response', (response) => {
      if (isCallback(response.request())) resolve({ callbackUrl: response.url(), status: response.status() })
    })
    page.on('requestfailed', (request) => {
      if (isCallback(request)) resolve({ callbackUrl: request.url(), status: undefined })
    })
    timer = setTimeout(() => reject(new Error(`no redirect to the callback within ${STEP_TIMEOUT_MS * 3} ms (at ${page.url()})`)), STEP_TIMEOUT_MS * 3)
  })
  left.catch(() => undefined)
  const leftStep = left.then(() => 'left' as const, () => 'left' as const)
  try {
    await page.goto(authorizationUrl).catch((error: unknown) => {
      // A redirect straight to a callback with nobody listening makes goto fail; `left` has it.
      if (!String(error).includes('net::ERR_')) throw error
    })
    await signInGrantContinue(page, user, leftStep)
    return await left
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Device flow in `page`: opens verificationUri, enters userCode when asked (not with
 * verification_uri_complete), signs in, grants and continues. Returns the text of the page glewlwyd
 * shows at the end (English) — throws unless it reads as a success.
 */
export async function approveDeviceWithChromium(
  page: Page,
  verificationUri: string,
  userCode: string,
  user: GlewlwydBrowserUser,
): Promise<string> {
  await page.goto(verificationUri)
  const first = await waitForAny(page, [SELECTORS.deviceCode, SELECTORS.username, SELECTORS.continue])
  if (first === SELECTORS.deviceCode) {
    await page.fill(SELECTORS.deviceCode, userCode)
    await page.locator('button.btn-primary', { hasText: 'OK' }).click()
    // An unknown or expired code: /login.html?…&prompt=deviceCodeError, which glewlwyd 2.7.5's web app
    // shows as "scope parameter is missing / Invalid login URL" (not its "Invalid code, please retry").
    const invalid = 'text=Invalid login URL'
    const next = await waitForAny(page, [SELECTORS.username, SELECTORS.grantBoxes, SELECTORS.continue, invalid, 'text=Invalid code, please retry'])
    if (next !== SELECTORS.username && next !== SELECTORS.grantBoxes && next !== SELECTORS.continue) {
      throw new Error(`device user code ${userCode} refused (prompt=${new URL(page.url()).searchParams.get('prompt')})`)
    }
  }
  await signInGrantContinue(page, user)
  // After "Continue": <issuer>/device?code=…&g_continue → 302 to /login.html?prompt=deviceComplete
  // ("Authorization complete, you may close this window"); a bad or expired code gives
  // prompt=deviceCodeError ("Invalid code, please retry"), a server error prompt=deviceServerError.
  const results = ['deviceComplete', 'deviceCodeError', 'deviceServerError']
  await page.waitForURL((url) => results.includes(url.searchParams.get('prompt') ?? ''), { timeout: STEP_TIMEOUT_MS })
  await page.getByText(/Authorization complete|Invalid code|Server error/).first().waitFor({ timeout: STEP_TIMEOUT_MS }).catch(() => undefined)
  const text = await page.innerText('body')
  const prompt = new URL(page.url()).searchParams.get('prompt')
  if (prompt !== 'deviceComplete') throw new Error(`device login not approved (prompt=${prompt}): ${text.slice(0, 400)}`)
  return text
}

/**
 * Follows an end-session URL in `page` (which should hold the glewlwyd session, i.e. the context that
 * signed in) and presses "Logout" when glewlwyd asks. Outcomes:
 * - valid id_token_hint: /login.html?…&prompt=end_session ("The client <name> wishes you to close the
 *   current session", buttons "Logout" / "Stay connected"); after Logout either the browser goes to
 *   the registered post_logout_redirect_uri (?state=…) or the page says "Session closed — You are
 *   disconnected". ended: true.
 * - invalid or expired id_token_hint: /login.html?prompt=single_logout, which glewlwyd 2.7.5's web app
 *   shows as an error page ("callback_url parameter is missing / scope parameter is missing / Invalid
 *   login URL"). Nothing ended: ended false.
 * - no id_token_hint (client_id only): glewlwyd answers 200 with an empty body — a blank page, nothing
 *   ended. ended: false.
 */
export async function endSessionWithChromium(page: Page, endSessionUrl: string): Promise<{ ended: boolean; url: string; text: string }> {
  const providerOrigin = new URL(endSessionUrl).origin
  // The end-session page loads the session's client list (GET /api/<plugin>/session/<sid>/<client_id>);
  // a Logout pressed before that answer does nothing at all.
  const sessionList = page.waitForResponse((response) => response.request().method() === 'GET'
    && /\/api\/[^/]+\/session\/[^/]+\/[^/]+$/.test(new URL(response.url()).pathname), { timeout: STEP_TIMEOUT_MS })
  sessionList.catch(() => undefined)
  await page.goto(endSessionUrl)
  const text = async (): Promise<string> => (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').trim()
  if (!page.url().startsWith(`${providerOrigin}/login.html`)) return { ended: false, url: page.url(), text: await text() }
  const logout = page.locator('button', { hasText: /^\s*Logout\s*$/ }).first()
  const closed = page.getByText('You are disconnected').first()
  const first = await Promise.any([
    logout.waitFor({ timeout: STEP_TIMEOUT_MS }).then(() => 'logout' as const),
    closed.waitFor({ timeout: STEP_TIMEOUT_MS }).then(() => 'closed' as const),
    page.getByText('Invalid login URL').first().waitFor({ timeout: STEP_TIMEOUT_MS }).then(() => 'invalid' as const),
  ]).catch(() => 'none' as const)
  if (first === 'logout') {
    if (new URL(page.url()).searchParams.get('prompt') === 'end_session') await sessionList
    await logout.click()
    await Promise.any([
      page.waitForURL((url) => url.origin !== providerOrigin, { timeout: STEP_TIMEOUT_MS }),
      closed.waitFor({ timeout: STEP_TIMEOUT_MS }),
    ]).catch(() => undefined)
  }
  const ended = !page.url().startsWith(providerOrigin) || await closed.isVisible()
  return { ended, url: page.url(), text: await text() }
}

/** From wherever the login web app is: sign in if asked, grant every offered scope, press Continue. Stops early when `left` settles. */
async function signInGrantContinue(page: Page, user: GlewlwydBrowserUser, left?: Promise<'left'>): Promise<void> {
  let signedIn = false
  for (let step = 0; step < 6; step++) {
    const seen = await waitForAny(page, [SELECTORS.username, SELECTORS.grantBoxes, SELECTORS.continue], left)
    if (seen === 'left') return
    // The grant page shows "Continue" in its footer too: the grant goes first.
    const next = await page.locator(SELECTORS.grantBoxes).first().isVisible() ? SELECTORS.grantBoxes : seen
    if (next === SELECTORS.username) {
      if (signedIn) throw new Error(`sign-in failed for ${user.username}: ${(await page.innerText('body')).slice(0, 400)}`)
      await page.fill(SELECTORS.username, user.username)
      await page.fill(SELECTORS.password, user.password)
      const answer = page.waitForResponse((response) => response.request().method() === 'POST' && new URL(response.url()).pathname.endsWith('/api/auth/'), { timeout: STEP_TIMEOUT_MS })
      await page.click(SELECTORS.signIn)
      signedIn = true
      // 200: signed in; 401: wrong username or password (the page then shows "Authentication error").
      const status = (await answer).status()
      if (status !== 200) throw new Error(`sign-in refused for ${user.username}: POST /api/auth/ answered HTTP ${status}`)
      await page.locator(SELECTORS.username).waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS })
      continue
    }
    if (next === SELECTORS.grantBoxes) {
      for (const box of await page.locator(SELECTORS.grantBoxes).all()) {
        if (!(await box.isChecked())) await box.check()
      }
      await page.getByRole('button', { name: 'Grant access' }).click()
      await page.locator(SELECTORS.grantBoxes).first().waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS })
      continue
    }
    await page.click(SELECTORS.continue)
    return
  }
  throw new Error(`stuck on the glewlwyd login page: ${(await page.innerText('body')).slice(0, 400)}`)
}

