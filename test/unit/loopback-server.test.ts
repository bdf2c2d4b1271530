import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { networkInterfaces } from 'node:os'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { PortsUnavailableError } from '../../src/errors.ts'
import { startCallbackServer, type CallbackServer, type CallbackServerOptions } from '../../src/loopback/server.ts'
import { listenOnFirstFreePort } from '../../src/loopback/ports.ts'
import { PAGE_CONTENT_SECURITY_POLICY } from '../../src/loopback/pages.ts'
import { findFreePortRange, occupyPorts } from '../helpers/ports.ts'

const STATE = 'state-0123456789abcdefghijklmnopqrstuvwxyz'

/** Whether this machine can bind ::1 at all (some containers have no IPv6). */
const hasIpv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createNetServer()
  probe.once('error', () => resolve(false))
  probe.listen({ host: '::1', port: 0 }, () => probe.close(() => resolve(true)))
})

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function send(port: number, path: string, options: { method?: string; host?: string; address?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.address ?? '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: { host: options.host ?? `127.0.0.1:${port}` },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

function connectRaw(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host })
    socket.once('connect', () => {
      socket.off('error', reject)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

async function start(overrides: Partial<CallbackServerOptions> = {}): Promise<CallbackServer> {
  const port = overrides.port ?? (await findFreePortRange(1))
  return startCallbackServer({ redirectHost: '127.0.0.1', port, portAttempts: 1, path: '/callback', state: STATE, displayName: 'acme', ...overrides })
}

function assertSecurityHeaders(reply: Reply): void {
  assert.equal(reply.headers['content-security-policy'], PAGE_CONTENT_SECURITY_POLICY)
  assert.equal(reply.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(reply.headers['cache-control'], 'no-store')
  assert.equal(reply.headers['referrer-policy'], 'no-referrer')
  assert.equal(reply.headers['x-content-type-options'], 'nosniff')
  assert.equal(reply.headers.connection, 'close')
}

test('port fallback: base..base+2 occupied → base+3 is used', async () => {
  const base = await findFreePortRange(5)
  const free = await occupyPorts([base, base + 1, base + 2])
  try {
    const server = await start({ port: base, portAttempts: 5 })
    try {
      assert.equal(server.port, base + 3)
      assert.equal(server.redirectUri, `http://127.0.0.1:${base + 3}/callback`)
    } finally {
      server.close()
    }
  } finally {
    await free()
  }
})

test('all attempts taken → PortsUnavailableError naming the range', async () => {
  const base = await findFreePortRange(3)
  const free = await occupyPorts([base, base + 1, base + 2])
  try {
    await assert.rejects(start({ port: base, portAttempts: 3 }), (error: unknown) => {
      assert.ok(error instanceof PortsUnavailableError)
      assert.equal(error.code, 'PORTS_UNAVAILABLE')
      assert.equal(error.host, '127.0.0.1')
      assert.equal(error.firstPort, base)
      assert.equal(error.lastPort, base + 2)
      assert.match(error.message, new RegExp(`${base}-${base + 2}`))
      return true
    })
  } finally {
    await free()
  }
})

test('listenOnFirstFreePort keeps the socket bound and reports 127.0.0.1', async () => {
  const base = await findFreePortRange(2)
  const free = await occupyPorts([base])
  const server = createNetServer()
  try {
    const port = await listenOnFirstFreePort(server, '127.0.0.1', base, 2)
    assert.equal(port, base + 1)
    assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port: base + 1 })
    assert.equal(server.listening, true)
  } finally {
    server.close()
    await free()
  }
})

test('listens on loopback only: 127.0.0.1, and ::1 too for a localhost redirect', async (t) => {
  const server = await start({ redirectHost: 'localhost' })
  try {
    assert.equal(server.redirectUri, `http://localhost:${server.port}/callback`)
    const socket = await connectRaw(server.port, '127.0.0.1')
    socket.destroy()

    const others = Object.values(networkInterfaces())
      .flat()
      .filter((info) => info !== undefined && !info.internal)
      .map((info) => info!.address)
    if (others.length === 0) t.diagnostic('no non-loopback interface on this machine: only ::1 is checked')
    // Control: a server on all interfaces is reachable on the first IPv4 one, so a refusal below means something.
    const ipv4 = others.find((address) => !address.includes(':'))
    if (ipv4 !== undefined) {
      const everywhere = createNetServer((socket) => socket.destroy())
      await new Promise<void>((resolve) => everywhere.listen({ host: '0.0.0.0', port: 0 }, resolve))
      const address = everywhere.address()
      const controlPort = typeof address === 'object' && address !== null ? address.port : 0
      try {
        ;(await connectRaw(controlPort, ipv4)).destroy()
      } finally {
        everywhere.close()
      }
    }
    for (const address of others) {
      await assert.rejects(connectRaw(server.port, address), /ECONNREFUSED|EADDRNOTAVAIL|ENETUNREACH|EHOSTUNREACH|EINVAL/, `reachable on ${address}`)
    }
    // A browser may resolve localhost to ::1: that address is ours too, on the same port.
    if (hasIpv6Loopback) (await connectRaw(server.port, '::1')).destroy()
  } finally {
    server.close()
  }
})

test('a 127.0.0.1 redirect does not bind ::1; for localhost, a port whose ::1 is taken counts as taken', async (t) => {
  if (!hasIpv6Loopback) return t.skip('no IPv6 loopback on this machine')
  const ipv4Only = await start({ redirectHost: '127.0.0.1' })
  try {
    await assert.rejects(connectRaw(ipv4Only.port, '::1'))
  } finally {
    ipv4Only.close()
  }
  const base = await findFreePortRange(3)
  const squatter = createNetServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => squatter.listen({ host: '::1', port: base }, resolve))
  try {
    const server = await start({ redirectHost: 'localhost', port: base, portAttempts: 3 })
    try {
      assert.equal(server.port, base + 1)
      assert.equal(server.redirectUri, `http://localhost:${base + 1}/callback`)
    } finally {
      server.close()
    }
  } finally {
    squatter.close()
  }
})

test('404 on another path (favicon included), then the real callback still resolves', async () => {
  const server = await start()
  try {
    const waiting = server.waitForCallback()
    for (const path of ['/favicon.ico', '/', '/other?code=x&state=' + STATE]) {
      const reply = await send(server.port, path)
      assert.equal(reply.status, 404, path)
      assertSecurityHeaders(reply)
      assert.match(reply.body, /^<!DOCTYPE html>/)
    }
    const replying = send(server.port, `/callback?code=the-code&state=${STATE}`)
    const url = await waiting
    assert.equal(url.href, `http://127.0.0.1:${server.port}/callback?code=the-code&state=${STATE}`)
    assert.equal(url.searchParams.get('code'), 'the-code')
    await server.respond(200, '<!DOCTYPE html><p>done</p>')
    const reply = await replying
    assert.equal(reply.status, 200)
    assert.equal(reply.body, '<!DOCTYPE html><p>done</p>')
    assertSecurityHeaders(reply)
  } finally {
    server.close()
  }
})

test('405 on POST (and HEAD) to the callback path, with Allow: GET', async () => {
  const server = await start()
  try {
    const post = await send(server.port, `/callback?code=x&state=${STATE}`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal(post.headers.allow, 'GET')
    assertSecurityHeaders(post)
    const head = await send(server.port, `/callback?code=x&state=${STATE}`, { method: 'HEAD' })
    assert.equal(head.status, 405)
  } finally {
    server.close()
  }
})

test('a foreign Host header is answered 400 and ignored', async () => {
  const server = await start()
  try {
    let settled = false
    const waiting = server.waitForCallback().finally(() => (settled = true))
    const reply = await send(server.port, `/callback?code=x&state=${STATE}`, { host: `attacker.example:${server.port}` })
    assert.equal(reply.status, 400)
    assertSecurityHeaders(reply)
    await sleep(20)
    assert.equal(settled, false)

    const replying = send(server.port, `/callback?code=y&state=${STATE}`, { host: `LOCALHOST:${server.port}` })
    assert.equal((await waiting).searchParams.get('code'), 'y')
    await server.respond(200, 'ok')
    assert.equal((await replying).status, 200)
  } finally {
    server.close()
  }
})

test('a wrong state, with a code and with an error, is answered 400; the correct one then resolves', async () => {
  const server = await start()
  try {
    let settled = false
    const waiting = server.waitForCallback().finally(() => (settled = true))
    for (const query of ['code=stolen&state=wrong', 'error=access_denied&error_description=%3Cscript%3E&state=wrong', 'code=no-state', `state=${STATE}`]) {
      const reply = await send(server.port, `/callback?${query}`)
      assert.equal(reply.status, 400, query)
      assert.ok(!reply.body.includes('<script>'))
      assertSecurityHeaders(reply)
    }
    await sleep(20)
    assert.equal(settled, false)

    const replying = send(server.port, `/callback?error=access_denied&error_description=User%20said%20no&state=${STATE}`)
    const url = await waiting
    assert.equal(url.searchParams.get('error'), 'access_denied')
    assert.equal(url.searchParams.get('error_description'), 'User said no')
    await server.respond(400, 'denied page')
    assert.equal((await replying).status, 400)
  } finally {
    server.close()
  }
})

test('the callback response is held open until respond(), then the server closes', async () => {
  const server = await start()
  try {
    const replying = send(server.port, `/callback?code=c&state=${STATE}`)
    // The request may arrive before anyone waits: it is kept.
    await sleep(50)
    const url = await server.waitForCallback()
    assert.equal(url.searchParams.get('code'), 'c')

    let answered = false
    void replying.then(() => (answered = true))
    await sleep(150)
    assert.equal(answered, false, 'no response before respond()')

    // A second callback while the first is held: 400, "already received its answer".
    const second = await send(server.port, `/callback?code=d&state=${STATE}`)
    assert.equal(second.status, 400)
    assert.match(second.body, /already received its answer/)

    const html = '<!DOCTYPE html><title>ok</title><p>Logged in ✓</p>'
    await server.respond(200, html)
    const reply = await replying
    assert.equal(reply.status, 200)
    assert.equal(reply.body, html)
    assert.equal(reply.headers['content-length'], String(Buffer.byteLength(html)))
    assertSecurityHeaders(reply)

    // respond() closed the server: the port is free.
    await assert.rejects(connectRaw(server.port), /ECONNREFUSED/)
    const free = await occupyPorts([server.port])
    await free()
  } finally {
    server.close()
  }
})

test('idle pre-connections do not count: only a request is the callback', async () => {
  const server = await start()
  const idle = await connectRaw(server.port)
  const idle2 = await connectRaw(server.port)
  try {
    const waiting = server.waitForCallback()
    const replying = send(server.port, `/callback?code=real&state=${STATE}`)
    assert.equal((await waiting).searchParams.get('code'), 'real')
    await server.respond(200, 'ok')
    assert.equal((await replying).status, 200)
  } finally {
    server.close()
    idle.destroy()
    idle2.destroy()
  }
})

test('close() frees the port at once, even with an idle keep-alive connection open', async () => {
  const server = await start()
  const idle = await connectRaw(server.port)
  // A connection that already had a request answered is closed by the server (Connection: close);
  // one that never sent anything is the browser's preconnect.
  const closed = once(idle, 'close')
  const waiting = assert.rejects(server.waitForCallback(), /closed/)
  server.close()
  server.close() // idempotent

  const free = await occupyPorts([server.port]) // rebinding the same port right away works
  await free()
  await closed // the idle socket was destroyed, nothing keeps the process alive
  await waiting // a pending wait is rejected, not left hanging
})

test('waitForCallback rejects with signal.reason when the signal aborts first', async () => {
  const server = await start()
  try {
    const controller = new AbortController()
    const waiting = server.waitForCallback(controller.signal)
    const reason = new Error('timed out')
    controller.abort(reason)
    await assert.rejects(waiting, (error) => error === reason)

    const aborted = AbortSignal.abort(new Error('already'))
    await assert.rejects(server.waitForCallback(aborted), /already/)

    // The server is still usable after an aborted wait.
    const waiting2 = server.waitForCallback(new AbortController().signal)
    const replying = send(server.port, `/callback?code=late&state=${STATE}`)
    assert.equal((await waiting2).searchParams.get('code'), 'late')
    await server.respond(200, 'ok')
    await replying
  } finally {
    server.close()
  }
})

test('respond() without a held callback rejects and closes', async () => {
  const server = await start()
  await assert.rejects(server.respond(200, 'x'), /no callback/)
  await assert.rejects(connectRaw(server.port), /ECONNREFUSED/)
})

test('respond() resolves even when the browser went away', async () => {
  const server = await start()
  try {
    const socket = await connectRaw(server.port)
    socket.write(`GET /callback?code=gone&state=${STATE} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`)
    const url = await server.waitForCallback()
    assert.equal(url.searchParams.get('code'), 'gone')
    socket.destroy()
    await sleep(50)
    await server.respond(200, 'nobody reads this')
  } finally {
    server.close()
  }
})

test('a custom path and pages are used', async () => {
  const server = await start({
    path: '/oauth/done',
    pages: { success: () => 'S', failure: (info) => `F:${info.error}` },
  })
  try {
    const reply = await send(server.port, '/callback')
    assert.equal(reply.status, 404)
    assert.equal(reply.body, 'F:not_found')
    assert.equal(server.redirectUri, `http://127.0.0.1:${server.port}/oauth/done`)
  } finally {
    server.close()
  }
})

test('a pasted address that is the answer resolves the wait like the redirect; a later redirect is told the login is answered', async () => {
  const server = await start()
  try {
    let settled = false
    const waiting = server.waitForCallback().finally(() => (settled = true))
    const base = `http://127.0.0.1:${server.port}/callback`
    assert.equal(server.submitPasted('the-code-alone'), 'bare-code')
    assert.equal(server.submitPasted(`${base}?code=abc&state=wrong`), 'bad-state')
    assert.equal(server.submitPasted(`http://127.0.0.1:${server.port + 1}/callback?code=abc&state=${STATE}`), 'not-the-redirect')
    await sleep(20)
    assert.equal(settled, false, 'nothing but the answer ends the wait')

    assert.equal(server.submitPasted(`http://localhost:${server.port}/callback?code=abc&state=${STATE}&iss=https%3A%2F%2Fidp`), 'callback')
    const url = await waiting
    assert.equal(url.href, `${base}?code=abc&state=${STATE}&iss=https%3A%2F%2Fidp`, 'the redirect URI with the pasted answer')

    const late = await send(server.port, `/callback?code=other&state=${STATE}`)
    assert.equal(late.status, 400)
    assert.match(late.body, /already received its answer/)
    await server.respond(200, 'no browser waits for this')
    await assert.rejects(send(server.port, '/callback'), /ECONNREFUSED/)
  } finally {
    server.close()
  }
})

test('a redirect that came first wins over a paste', async () => {
  const server = await start()
  try {
    const waiting = server.waitForCallback()
    const replying = send(server.port, `/callback?code=from-browser&state=${STATE}`)
    const url = await waiting
    server.submitPasted(`http://127.0.0.1:${server.port}/callback?code=pasted&state=${STATE}`)
    assert.equal((await server.waitForCallback()).searchParams.get('code'), 'from-browser')
    assert.equal(url.searchParams.get('code'), 'from-browser')
    await server.respond(200, 'ok')
    assert.equal((await replying).status, 200)
  } finally {
    server.close()
  }
})
