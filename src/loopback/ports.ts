/**
 * Binds a server to the first free port of a range. The bind is the real one: the socket stays
 * bound from this listen on (no probe, close and rebind that another process could race).
 */
import type { Server } from 'node:net'
import { PortsUnavailableError, UsageError } from '../errors.ts'

const MAX_PORT = 65535

/**
 * Listens `server` on host, trying firstPort, firstPort+1, … (attempts ports in all, never past
 * 65535); resolves with the bound port. EADDRINUSE/EACCES → next port; all taken →
 * PortsUnavailableError(host, firstPort, lastPort). Any other listen error rejects as is.
 * firstPort 0 asks the OS for any free port (one attempt).
 */
export async function listenOnFirstFreePort(server: Server, host: string, firstPort: number, attempts: number): Promise<number> {
  return listenAllOnFirstFreePort([{ server, host }], firstPort, attempts)
}

export interface Binding {
  server: Server
  host: string
  /** Skipped when the machine has no such address (e.g. ::1 without IPv6); taken otherwise. */
  optional?: boolean
}

/**
 * Like listenOnFirstFreePort, for several servers that must share one port (127.0.0.1 and ::1 for a
 * `localhost` redirect): a port counts as free only when every binding gets it.
 */
export async function listenAllOnFirstFreePort(bindings: Binding[], firstPort: number, attempts: number): Promise<number> {
  if (!Number.isInteger(firstPort) || firstPort < 0 || firstPort > MAX_PORT) {
    throw new UsageError(`port must be an integer from 0 to ${MAX_PORT}, not ${firstPort}`)
  }
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new UsageError(`port attempts must be a positive integer, not ${attempts}`)
  }
  const lastPort = firstPort === 0 ? 0 : Math.min(firstPort + attempts - 1, MAX_PORT)

  let lastError: unknown
  for (let port = firstPort; port <= lastPort; port++) {
    const bound: Server[] = []
    try {
      let actual = port
      for (const { server, host, optional } of bindings) {
        try {
          actual = await listenOnce(server, host, actual)
          bound.push(server)
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (!(optional && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT'))) throw error
        }
      }
      return actual
    } catch (error) {
      await Promise.all(bound.map((server) => new Promise((resolve) => server.close(resolve))))
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error
      lastError = error
    }
  }
  throw new PortsUnavailableError(bindings.map((b) => b.host).join(' and '), firstPort, lastPort, { cause: lastError })
}

function listenOnce(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening)
      reject(error)
    }
    const onListening = (): void => {
      server.off('error', onError)
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    // exclusive: never share the socket with cluster workers; the port is ours alone.
    server.listen({ host, port, exclusive: true })
  })
}
