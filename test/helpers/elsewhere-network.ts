/**
 * The network of "another machine" for a browser (launchChromiumElsewhere): an HTTP proxy that
 * reaches only the given ports of this machine's loopback (the identity provider) and refuses
 * every other connection, as this machine's 127.0.0.1 is out of reach from elsewhere. The refusal
 * is a connection closed without an answer: the browser shows its error page, with the address
 * it tried in its address bar.
 */
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ElsewhereNetwork {
  proxyUrl: string
  /** Requests refused, by URL (what the browser could not reach). */
  refused: string[]
  close(): Promise<void>
}

export async function startElsewhereNetwork(reachablePorts: number[]): Promise<ElsewhereNetwork> {
  const refused: string[] = []
  const server: Server = createServer((req, res) => {
    const target = URL.parse(req.url ?? '')
    if (!target || target.protocol !== 'http:' || target.hostname !== '127.0.0.1' || !reachablePorts.includes(Number(target.port))) {
      refused.push(req.url ?? '')
      req.socket.destroy()
      return
    }
    const upstream = request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => req.socket.destroy())
    req.pipe(upstream)
  })
  // CONNECT (https) is not needed: the provider here is plain http on loopback.
  server.on('connect', (req, socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    proxyUrl: `http://127.0.0.1:${port}`,
    refused,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
