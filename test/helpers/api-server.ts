/** A scripted HTTP API on 127.0.0.1 for `fetch` and `git-credential` tests: every request recorded, every answer a handler's. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ApiRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: Buffer
}

export type ApiHandler = (request: ApiRequest, res: ServerResponse, count: number) => void

export interface ApiServer {
  readonly origin: string
  readonly requests: ApiRequest[]
  /** The handler for a path (exact, without the query); others answer 404. */
  on(path: string, handler: ApiHandler): void
  close(): Promise<void>
}

export async function startApiServer(): Promise<ApiServer> {
  const requests: ApiRequest[] = []
  const handlers = new Map<string, ApiHandler>()
  const counts = new Map<string, number>()
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const request = { method: req.method ?? 'GET', path, headers: req.headers, body: Buffer.concat(chunks) }
    requests.push(request)
    const count = (counts.get(path) ?? 0) + 1
    counts.set(path, count)
    const handler = handlers.get(path)
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not here')
      return
    }
    handler(request, res, count)
  })
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    on: (path, handler) => handlers.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
