/**
 * `logout --browser`: the browser is handed a one-shot loopback URL that redirects to the
 * provider's end-session URL, so the ID token (its id_token_hint) never appears in a process's
 * arguments, where other users can read it (/proc/<pid>/cmdline).
 */
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'

export interface OneShotRedirect {
  /** What the browser is given: http://127.0.0.1:<port>/<random path>. */
  url: string
  /** Resolves once the browser has fetched it (true), or when `waitMs` or the signal ended the wait (false). */
  followed(waitMs: number, signal?: AbortSignal): Promise<boolean>
  close(): void
}

export async function startOneShotRedirect(target: string): Promise<OneShotRedirect> {
  const path = `/end-session/${randomBytes(32).toString('base64url')}`
  let used = false
  let onFollowed: () => void = () => {}
  const server = createServer((req, res) => {
    if (used || req.method !== 'GET' || req.url !== path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Not found\n')
      return
    }
    used = true
    res.writeHead(302, { location: target, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', connection: 'close' }).end()
    onFollowed()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const close = () => {
    server.close()
    server.closeAllConnections()
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    followed(waitMs, signal) {
      if (used) return Promise.resolve(true)
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), waitMs)
        const abort = () => finish(false)
        signal?.addEventListener('abort', abort, { once: true })
        function finish(result: boolean) {
          clearTimeout(timer)
          signal?.removeEventListener('abort', abort)
          resolve(result)
        }
        onFollowed = () => finish(true)
      })
    },
    close,
  }
}
