/**
 * Step-up end to end, in real headless Chromium: (1) the built CLI against the test kit's provider and
 * an API that checks scopes — `fetch` exits 4 naming the login to run, that login (run as printed)
 * asks for the union, and `fetch` then succeeds; (2) the library against servers nobody here wrote,
 * the MCP TypeScript SDK's authorization server and a Streamable HTTP MCP server whose route needs
 * more scope (the SDK's `requireBearerAuth` answers 403 insufficient_scope): the SDK's own client
 * over `auth.fetch(…, { interactive: true })` logs in again for the union and calls the tool.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Browser } from 'playwright-core'
import { DEMO_CLIENT_ID, DEMO_USERS, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js'
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { createOAuthMetadata, getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import { resourceUrlFromServerUrl } from '@modelcontextprotocol/sdk/shared/auth-utils.js'
import { CliLogin } from '../../src/index.ts'
import { launchChromium, loginInChromium } from '../helpers/chromium.ts'
import { cleanEnv, makeTempHome, runCli, startCli } from '../helpers/cli.ts'
import { findFreePortRange } from '../helpers/ports.ts'
import { listen } from '../helpers/late-server.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { startApiServer, type ApiServer } from '../helpers/api-server.ts'

const [alice] = DEMO_USERS
let browser: Browser
const closers: Array<() => Promise<void>> = []

before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
  for (const close of closers.reverse()) await close()
})

test('the CLI: fetch exits 4 naming the step-up login; that login, run as printed, asks for the union in Chromium; fetch then passes', async () => {
  const provider: TestProvider = await startTestProvider()
  closers.push(() => provider.close())
  const api: ApiServer = await startApiServer()
  closers.push(() => api.close())
  const resource = `${api.origin}/api`
  provider.addResourceServer(resource, { scope: 'mcp:read mcp:write' })
  api.on('/api/write', (req, res) => {
    void (async () => {
      const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
      const identity = token ? await provider.verifyAccessToken(token) : undefined
      if (!identity) return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      if (!(identity.scope ?? '').split(' ').includes('mcp:write')) return void res.writeHead(403, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="mcp:write"' }).end()
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`written by ${identity.sub}`)
    })()
  })
  const temp = await makeTempHome()
  closers.push(temp.cleanup)
  const port = await findFreePortRange(3)
  const env = cleanEnv(temp.dir, { CLI_LOGIN_PORT: String(port), CLI_LOGIN_PORT_ATTEMPTS: '3', CLI_LOGIN_NO_BROWSER: '1' })

  const loginIn = async (args: string[]) => {
    const login = startCli(['login', ...args], env)
    const url = new URL(await login.url)
    const page = await loginInChromium(browser, url.href, { username: alice.username, password: alice.password })
    assert.equal(page.status, 200, page.text)
    const result = await login.result
    assert.equal(result.code, 0, result.stderr)
    return url
  }
  await loginIn(['--issuer', provider.issuer, '--client-id', DEMO_CLIENT_ID, '--resource', resource, '--scope', 'openid offline_access mcp:read'])

  const refused = await runCli(['fetch', '-X', 'POST', `${resource}/write`], env)
  assert.equal(refused.code, 4, refused.stderr)
  const command = /run (cli-login login .*)$/.exec(refused.stderr.trimEnd())?.[1]
  assert.ok(command, refused.stderr)
  const scope = /--scope "([^"]+)"/.exec(command)?.[1]
  assert.deepEqual(scope?.split(' ').sort(), ['mcp:read', 'mcp:write', 'offline_access', 'openid'])

  const stepUp = await loginIn(['--scope', scope as string])
  assert.equal(stepUp.searchParams.get('resource'), resource, 'the profile remembered the resource')
  const written = await runCli(['fetch', '-X', 'POST', `${resource}/write`], env)
  assert.equal(written.code, 0, written.stderr)
  assert.equal(written.stdout, `written by ${alice.sub}`)
})


test("the MCP SDK's servers: its 403 insufficient_scope on a route that needs more; auth.fetch (interactive) logs in again for the union in Chromium, the SDK's client calls the tool", async () => {
  const [authorizationServer, resourceServer] = [await listen(closers), await listen(closers)]
  const issuerUrl = new URL(authorizationServer.origin)
  const mcpUrl = new URL(`${resourceServer.origin}/mcp`)
  const adminUrl = new URL(`${resourceServer.origin}/mcp/admin`)
  const provider = new DemoInMemoryAuthProvider((resource) => resource?.toString() === resourceUrlFromServerUrl(mcpUrl).toString())
  const scopesSupported = ['mcp:tools', 'mcp:admin']
  const authApp = createMcpExpressApp()
  authApp.use(mcpAuthRouter({ provider, issuerUrl, scopesSupported }))
  authorizationServer.answer(authApp)
  const oauthMetadata = createOAuthMetadata({ provider, issuerUrl, scopesSupported })
  const app = createMcpExpressApp()
  app.use(mcpAuthMetadataRouter({ oauthMetadata, resourceServerUrl: mcpUrl, scopesSupported: ['mcp:tools'], resourceName: 'SDK demo' }))
  const mcp = (requiredScopes: string[]) => [
    requireBearerAuth({ verifier: provider, requiredScopes, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl), expectedResource: mcpUrl }),
    async (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
      const server = new McpServer({ name: 'sdk-demo', version: '1.0.0' })
      server.registerTool('scopes', { description: 'The scopes of the caller' }, async (extra) => ({ content: [{ type: 'text', text: (extra.authInfo?.scopes ?? []).join(' ') }] }))
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
      res.on('close', () => void transport.close())
      await server.connect(transport)
      await transport.handleRequest(req, res, req.body)
    },
  ] as const
  app.post('/mcp', ...mcp(['mcp:tools']))
  app.post('/mcp/admin', ...mcp(['mcp:tools', 'mcp:admin']))
  resourceServer.answer(app)

  const temp = await makeTempHome()
  closers.push(temp.cleanup)
  const opened: string[] = []
  const auth = new CliLogin({
    appName: 'acme',
    resource: mcpUrl.href,
    home: temp.dir,
    storage: 'file',
    port: await findFreePortRange(3),
    portAttempts: 3,
    openBrowser: async (url) => {
      opened.push(url)
      void loginInChromium(browser, url, { username: '', password: '' }).catch(() => {})
      return { opened: true, command: 'chromium (playwright)' }
    },
  })
  await auth.login()
  assert.equal(new URL(opened[0]).searchParams.get('scope'), 'mcp:tools')

  const client = new Client({ name: 'e2e', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(adminUrl, { fetch: (url, init) => auth.fetch(url as string | URL, { ...init, interactive: true }) })
  await client.connect(transport)
  const called = await client.callTool({ name: 'scopes', arguments: {} })
  assert.deepEqual(String((called.content as Array<{ text: string }>)[0].text).split(' ').sort(), ['mcp:admin', 'mcp:tools'])
  await client.close()
  assert.equal(opened.length, 2, 'one step-up login')
  assert.deepEqual(new URL(opened[1]).searchParams.get('scope')?.split(' ').sort(), ['mcp:admin', 'mcp:tools'], 'the union of the scopes')
})
