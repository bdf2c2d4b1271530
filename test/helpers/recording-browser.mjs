// A BROWSER stand-in for attacker tests: records its arguments and environment to <record file>,
// then acts on the URL (the last argument) as <mode> says:
//   record  - nothing more
//   follow  - GET it and follow redirects (recording each hop), as a browser would
//   error   - answer the login's callback itself with ?error=access_denied&error_description=$HOSTILE_DESCRIPTION
// Usage: BROWSER="node recording-browser.mjs <record file> <mode>"
import { renameSync, writeFileSync } from 'node:fs'

const [record, mode, url] = process.argv.slice(2)
const hops = []
// Written whole (temporary file, then rename): the test reads it while this process may still write.
const save = () => {
  writeFileSync(`${record}.tmp`, JSON.stringify({ argv: process.argv.slice(2), env: process.env, hops }))
  renameSync(`${record}.tmp`, record)
}
save()
if (mode === 'follow') {
  let next = url
  for (let i = 0; i < 5 && next; i++) {
    const response = await fetch(next, { redirect: 'manual' }).catch((error) => ({ status: 0, headers: new Headers(), error: String(error) }))
    const location = response.headers.get('location')
    hops.push({ url: next, status: response.status, location })
    next = location ? new URL(location, next).href : undefined
    if (next && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(next)) break
  }
  save()
} else if (mode === 'error') {
  const authorization = new URL(url)
  const callback = new URL(authorization.searchParams.get('redirect_uri'))
  callback.searchParams.set('state', authorization.searchParams.get('state'))
  callback.searchParams.set('error', 'access_denied')
  callback.searchParams.set('error_description', process.env.HOSTILE_DESCRIPTION ?? '')
  const response = await fetch(callback)
  hops.push({ url: callback.href, status: response.status })
  save()
}
