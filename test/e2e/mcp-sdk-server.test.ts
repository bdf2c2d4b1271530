/**
 * Servers nobody here wrote: the official MCP TypeScript SDK's own authorization server (its demo
 * in-memory OAuth provider behind the SDK's `mcpAuthRouter`: RFC 8414 metadata, dynamic client
 * registration, PKCE, resource indicators checked strictly) and a Streamable HTTP MCP server that
 * requires the SDK's bearer auth (RFC 9728 metadata, `WWW-Authenticate`). Through the built CLI with
 * real headless Chromium: `cli-login login --resource <its /mcp URL>`, then a tool call with the
 * token `cli-login token` prints.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js'
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { createOAuthMetadata, getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import { resourceUrlFromServerUrl } from '@modelcontextprotocol/sdk/shared/auth-utils.js'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { listen } from '../helpers/late-server.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'

let browser: Browser
const closers: Array<() => Promise<void>> = []
let mcpUrl: URL
let provider: DemoInMemoryAuthProvider
const registered: string[] = []


before(async () => {
  const [authorizationServer, resourceServer] = [await listen(closers), await listen(closers)]
  const issuerUrl = new URL(authorizationServer.origin)
  mcpUrl = new URL(`${resourceServer.origin}/mcp`)

  // The SDK's demo authorization server, with the strict resource check of its --oauth-strict mode.
  provider = new DemoInMemoryAuthProvider((resource) => resource?.toString() === resourceUrlFromServerUrl(mcpUrl).toString())
  const register = provider.clientsStore.registerClient.bind(provider.clientsStore)
  provider.clientsStore.registerClient = async (client) => (registered.push(client.client_id), register(client))
  const authApp = createMcpExpressApp()
  authApp.use(mcpAuthRouter({ provider, issuerUrl, scopesSupported: ['mcp:tools'] }))
  authorizationServer.answer(authApp)

  // The MCP server: its protected resource metadata, and tools only with a bearer token for it.
  const oauthMetadata = createOAuthMetadata({ provider, issuerUrl, scopesSupported: ['mcp:tools'] })
  const app = createMcpExpressApp()
  app.use(mcpAuthMetadataRouter({ oauthMetadata, resourceServerUrl: mcpUrl, scopesSupported: ['mcp:tools'], resourceName: 'SDK demo' }))
  const auth = requireBearerAuth({ verifier: provider, requiredScopes: ['mcp:tools'], resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl), expectedResource: mcpUrl })
  app.post('/mcp', auth, async (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
    const server = new McpServer({ name: 'sdk-demo', version: '1.0.0' })
    server.registerTool('whoami', { description: 'Says who called' }, async (extra) => ({ content: [{ type: 'text', text: `client ${extra.authInfo?.clientId}` }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => void transport.close())
    await server.connect(transport)
    await transport.handleRequest(req, res, req.body)
  })
  resourceServer.answer(app)
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
  for (const close of closers.reverse()) await close()
})

test('the MCP SDK’s authorization server and MCP server: login --resource in Chromium, then a tool call with cli-login token', async () => {
  const temp = await makeTempHome()
  closers.push(temp.cleanup)
  const port = await findFreePortRange(3)
  const env = cleanEnv(temp.dir, { CLI_LOGIN_PORT: String(port), CLI_LOGIN_PORT_ATTEMPTS: '3', CLI_LOGIN_NO_BROWSER: '1' })

  const login = startCli(['login', '--resource', mcpUrl.href], env)
  const url = new URL(await login.url)
  assert.equal(url.searchParams.get('scope'), 'mcp:tools', "the 401's scope")
  assert.equal(url.searchParams.get('resource'), mcpUrl.href)
  assert.equal(url.searchParams.has('nonce'), false, 'no openid: no nonce')
  const page = await loginInChromium(browser, url.href, { username: '', password: '' })
  assert.equal(page.status, 200)
  assert.match(page.text, /You are logged in|close this window/i)
  const result = await login.result
  assert.equal(result.code, 0, result.stderr)
  assert.equal(registered.length, 1, 'registered itself with the SDK’s server')

  const token = await runCli(['token'], env)
  assert.equal(token.code, 0, token.stderr)
  const client = new Client({ name: 'e2e', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token.stdout.trim()}` } } })
  await client.connect(transport)
  const called = await client.callTool({ name: 'whoami', arguments: {} })
  assert.deepEqual(called.content, [{ type: 'text', text: `client ${registered[0]}` }])
  await client.close()

  // Without the token the SDK's server refuses: the token is what opened it.
  const refused = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })
  assert.equal(refused.status, 401)
})
