import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defaultPages, escapeHtml, PAGE_CONTENT_SECURITY_POLICY } from '../../src/loopback/pages.ts'

const nasty = `<script>alert("x")</script> & 'quoted' "double"`

function directives(csp: string): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/)
    if (name) map.set(name.toLowerCase(), values)
  }
  return map
}

test('escapeHtml escapes the five HTML-significant characters', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;')
  assert.equal(escapeHtml('plain text é ✓'), 'plain text é ✓')
  assert.equal(escapeHtml(''), '')
})

test('failure page escapes error and error description', () => {
  const html = defaultPages.failure({ displayName: 'acme', error: nasty, errorDescription: `${nasty} <img src=x onerror=alert(1)>` })
  assert.ok(!html.includes('<script>'), 'no raw <script>')
  assert.ok(!html.includes('<img'), 'no raw <img>')
  assert.ok(!html.includes(`"x"`), 'no raw double quotes from the input')
  assert.ok(!html.includes(`'quoted'`), 'no raw single quotes from the input')
  assert.ok(!/&(?![a-z]+;|#\d+;)/i.test(html), 'every & is an entity')
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; &quot;double&quot;'))
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'))
})

test('success page escapes every value shown', () => {
  const html = defaultPages.success({ displayName: 'acme', issuer: `https://idp.example/${nasty}`, name: nasty, email: `${nasty}@example.com`, subject: nasty })
  assert.ok(!html.includes('<script>'))
  assert.ok(!html.includes(`'quoted'`))
  assert.ok(html.includes('&lt;script&gt;'))
})

test('pages are complete, self-contained documents telling the user to close the window', () => {
  const pages = [
    defaultPages.success({ displayName: 'acme', issuer: 'https://idp.example/', name: 'Ada Lovelace', email: 'ada@example.com' }),
    defaultPages.success({ displayName: 'acme', issuer: 'https://idp.example/' }),
    defaultPages.failure({ displayName: 'acme', error: 'access_denied', errorDescription: 'The user said no' }),
    defaultPages.failure({ displayName: 'acme', error: 'access_denied' }),
  ]
  for (const html of pages) {
    assert.match(html, /^<!DOCTYPE html>/)
    assert.match(html, /<\/html>\s*$/)
    assert.match(html, /<meta charset="utf-8">/)
    assert.match(html, /close this window and return to the terminal/)
    assert.ok(!/<script/i.test(html), 'no script element')
    assert.ok(!/\son[a-z]+=/i.test(html), 'no inline event handler')
    // No external resources: the only URLs are data: (favicon) or text shown to the user.
    assert.ok(!/(src|href)="(?!data:)/i.test(html), 'no external src/href')
    assert.ok(!/@import|url\(/i.test(html), 'no CSS imports or url()')
  }
  assert.match(pages[0], /Ada Lovelace/)
  assert.match(pages[0], /ada@example\.com/)
  assert.match(pages[2], /access_denied/)
  assert.match(pages[2], /The user said no/)
  // The embedding tool's name, not ours.
  assert.match(pages[0], /<title>acme: logged in<\/title>/)
  assert.match(pages[0], /You are logged in to acme/)
  assert.match(pages[2], /acme login failed/)
  assert.doesNotMatch(pages.join(''), /cli-login/)
})

test("the tool's display name is escaped like everything else", () => {
  const html = defaultPages.success({ displayName: '<b>Acme</b>', issuer: 'https://idp.example/' })
  assert.ok(!html.includes('<b>Acme'))
  assert.ok(html.includes('&lt;b&gt;Acme&lt;/b&gt;'))
})

test('long values are clipped', () => {
  const html = defaultPages.failure({ displayName: 'acme', error: 'x', errorDescription: 'y'.repeat(100_000) })
  assert.ok(html.length < 20_000)
})

test('CSP allows no scripts, inline styles only, no framing, forms or base', () => {
  const csp = directives(PAGE_CONTENT_SECURITY_POLICY)
  assert.deepEqual(csp.get('default-src'), ["'none'"])
  assert.equal(csp.has('script-src'), false, 'no script source at all')
  assert.equal(csp.has('script-src-elem'), false)
  assert.equal(csp.has('script-src-attr'), false)
  assert.equal(csp.has('connect-src'), false)
  assert.deepEqual(csp.get('style-src'), ["'unsafe-inline'"])
  assert.deepEqual(csp.get('frame-ancestors'), ["'none'"])
  assert.deepEqual(csp.get('form-action'), ["'none'"])
  assert.deepEqual(csp.get('base-uri'), ["'none'"])
  assert.ok(!/unsafe-eval|strict-dynamic|https?:|\*/.test(PAGE_CONTENT_SECURITY_POLICY))
  assert.ok(!/[\r\n]/.test(PAGE_CONTENT_SECURITY_POLICY), 'usable as a header value')
})
