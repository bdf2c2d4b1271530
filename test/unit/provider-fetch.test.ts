/**
 * The project's own fetch (src/net/provider-fetch.ts) bounds every request: a provider that takes
 * the connection and never answers, or never completes it, ends in the provider-unreachable error.
 * The bounds are shortened through createProviderFetch's seam; node:test's timeout fails a hang.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createProviderFetch, RequestTimeoutError } from '../../src/net/provider-fetch.ts'
import { discoverProvider } from '../../src/protocol/provider.ts'
import { ErrorCode, ProviderError } from '../../src/errors.ts'
import { exitCodeFor } from '../../src/cli/exit-codes.ts'

const SHORT = { connectMs: 300, answerMs: 300 }
const HANG = { timeout: 15_000 }

async function listen(t: TestContext, server: Server): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as AddressInfo).port
}

/** Takes every connection, reads what comes, never writes a byte. */
function silentServer(): Server {
  return createServer((socket) => socket.resume())
}

test('a server that takes the connection and never answers: "no answer" within the bound', HANG, async (t) => {
  const port = await listen(t, silentServer())
  const providerFetch = createProviderFetch({}, SHORT)
  await assert.rejects(providerFetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`), (error: unknown) => {
    assert.ok(error instanceof RequestTimeoutError)
    assert.equal(error.message, `no answer from 127.0.0.1:${port} within 0.3 s`)
    return true
  })
})

test('a server that sends its headers and part of the body, then stalls: "no answer" within the bound', HANG, async (t) => {
  const port = await listen(t, createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"issuer":')
  }))
  await assert.rejects(createProviderFetch({}, SHORT)(`http://127.0.0.1:${port}/`), /no answer from 127\.0\.0\.1:\d+ within 0\.3 s/)
})

test('an https server that takes the TCP connection and never does the TLS handshake: "no connection" within the bound', HANG, async (t) => {
  const port = await listen(t, silentServer())
  await assert.rejects(createProviderFetch({}, SHORT)(`https://127.0.0.1:${port}/`), /no connection to 127\.0\.0\.1:\d+ within 0\.3 s/)
})

test('through a proxy that takes the connection and never answers: the whole request within both bounds', HANG, async (t) => {
  const proxyPort = await listen(t, silentServer())
  const providerFetch = createProviderFetch({ HTTP_PROXY: `http://127.0.0.1:${proxyPort}` }, SHORT)
  await assert.rejects(providerFetch('http://id.example/token'), /no answer from id\.example within 0\.6 s/)
})

test('through a proxy whose answer stalls after the headers: the whole request within both bounds', HANG, async (t) => {
  const proxyPort = await listen(t, createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('{"issuer":')
  }))
  const providerFetch = createProviderFetch({ HTTP_PROXY: `http://127.0.0.1:${proxyPort}` }, SHORT)
  await assert.rejects(providerFetch('http://id.example/token'), /no answer from id\.example within 0\.6 s/)
})

test('a silent provider at discovery is the provider-unreachable error: one line, exit 1', HANG, async (t) => {
  const port = await listen(t, silentServer())
  const issuer = `http://127.0.0.1:${port}/`
  await assert.rejects(discoverProvider({ issuer, clientId: 'app', fetch: createProviderFetch({}, SHORT) }), (error: unknown) => {
    assert.ok(error instanceof ProviderError)
    assert.equal(error.code, ErrorCode.PROVIDER_UNREACHABLE)
    assert.match(error.message, /^could not reach the provider for discovery at .+: no answer from 127\.0\.0\.1:\d+ within 0\.3 s; check the issuer URL/)
    assert.doesNotMatch(error.message, /\n/)
    assert.equal(exitCodeFor(error), 1)
    return true
  })
})

test('within the bounds, answers come through as before', HANG, async (t) => {
  const port = await listen(t, createHttpServer((_req, res) => res.end('{"ok":true}')))
  const providerFetch = createProviderFetch({}, SHORT)
  assert.deepEqual(await (await providerFetch(`http://127.0.0.1:${port}/`)).json(), { ok: true })
  // Kept-alive: the second request reuses the connection, and is bounded the same way.
  assert.deepEqual(await (await providerFetch(`http://127.0.0.1:${port}/`)).json(), { ok: true })
})

test('a kept-alive connection the server closes as the next request goes out on it: sent again once, on a new connection', HANG, async (t) => {
  let requests = 0
  const perSocket = new WeakMap<Socket, number>()
  const server = createHttpServer((req, res) => {
    requests += 1
    const n = (perSocket.get(req.socket) ?? 0) + 1
    perSocket.set(req.socket, n)
    // The keep-alive race: the server drops the idle connection just as a second request comes on it.
    if (n === 2) return void req.socket.destroy()
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"n":${requests}}`)
  })
  const port = await listen(t, server)
  const providerFetch = createProviderFetch({}, SHORT)
  const url = `http://127.0.0.1:${port}/mcp`
  assert.equal((await providerFetch(url)).status, 200)
  const second = await providerFetch(url, { method: 'POST', body: '{}' })
  assert.deepEqual(await second.json(), { n: 3 }, 'the request reset on the reused connection, then answered on a new one')

  // A reset on a new connection is an answer: not sent again.
  const resetting = createServer((socket) => socket.once('data', () => socket.destroy()))
  const resetPort = await listen(t, resetting)
  await assert.rejects(providerFetch(`http://127.0.0.1:${resetPort}/`), (error: NodeJS.ErrnoException) => error.code === 'ECONNRESET')
})
