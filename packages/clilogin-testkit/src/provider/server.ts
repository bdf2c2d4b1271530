/**
 * The provider's HTTP(S) server on 127.0.0.1. It listens before oidc-provider exists (the issuer
 * carries its port) and answers 503 until the provider's handler is set.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'

export interface LoopbackServer {
  readonly port: number
  /** `http://127.0.0.1:<port>/`, or https with `tls`. */
  readonly origin: string
  setHandler(handler: (req: IncomingMessage, res: ServerResponse) => void): void
  /** Closes the server and every open connection at once. */
  close(): Promise<void>
}

export async function startLoopbackServer(options: { port?: number; tls?: { key: string | Buffer; cert: string | Buffer } }): Promise<LoopbackServer> {
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const requestListener = (req: IncomingMessage, res: ServerResponse): void => {
    if (handle) {
      handle(req, res)
    } else {
      res.statusCode = 503
      res.end()
    }
  }
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, requestListener)
    : createHttpServer(requestListener)
  const port = await listen(server, options.port ?? 0)
  let closing: Promise<void> | undefined
  return {
    port,
    origin: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/`,
    setHandler(handler) {
      handle = handler
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error)
    server.once('error', onError)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
