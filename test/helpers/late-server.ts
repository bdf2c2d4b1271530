/** An HTTP server on a free 127.0.0.1 port whose handler is set once every URL is known (it answers 503 until then). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** `closers` gets the server's close. */
export async function listen(closers: Array<() => Promise<void>>): Promise<{ origin: string; answer: (handler: Handler) => void }> {
  let handler: Handler = (_req, res) => void res.writeHead(503).end()
  const server: Server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answer: (h) => (handler = h) }
}
