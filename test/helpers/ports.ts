/**
 * Port helpers for tests. Test files run in parallel processes, so each picks a random range and
 * checks it by binding 127.0.0.1 (the address the loopback server uses).
 */
import { createServer, type Server } from 'node:net'

const LOW = 20000
const HIGH = 60000 // exclusive
const MAX_TRIES = 50

/** A base port in [20000, 60000) such that base..base+count-1 were all free a moment ago; random start, probes by binding 127.0.0.1. */
export async function findFreePortRange(count: number): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > HIGH - LOW) throw new RangeError(`bad port count: ${count}`)
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - count + 1))
    const ports = Array.from({ length: count }, (_, i) => base + i)
    try {
      const free = await occupyPorts(ports)
      await free()
      return base
    } catch {
      // Something in the range is taken: try another random range.
    }
  }
  throw new Error(`no ${count} consecutive free ports found on 127.0.0.1 after ${MAX_TRIES} tries`)
}

/** Occupies the given ports on 127.0.0.1 (real listening sockets); returns a function that frees them. */
export async function occupyPorts(ports: number[]): Promise<() => Promise<void>> {
  const servers: Server[] = []
  const freeAll = async (): Promise<void> => {
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))
  }
  try {
    for (const port of ports) servers.push(await listen(port))
  } catch (error) {
    await freeAll()
    throw error
  }
  return freeAll
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy())
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', reject)
      resolve(server)
    })
  })
}
