/**
 * The MCP client the official conformance suite drives (`npm run test:conformance`): an MCP client
 * whose whole OAuth is cli-login's library, as any MCP tool would embed it.
 *
 * `conformance client --command "<this>"` runs it with the MCP server's URL as its last argument,
 * the scenario's data in MCP_CONFORMANCE_CONTEXT (e.g. pre-registered client credentials) and the
 * protocol revision in MCP_CONFORMANCE_PROTOCOL_VERSION. It logs in (`login()`: discovery,
 * registration, scope, PKCE, the code exchange are the library's), then lists and calls the
 * server's tools through the library's `auth.fetch()` (token, refresh, step-up). Its browser follows the authorization
 * redirect over HTTP, as the suite's servers expect. No OAuth here: whatever the library lacks fails.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomInt } from 'node:crypto'
import { CliLogin, type CliLoginOptions, type OpenBrowser } from 'clilogin'

/** The revisions before 2026-07-28 open a session with `initialize`; from it on, every request stands alone. */
const STATEFUL_REVISIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']
/** The Client ID Metadata Document the suite's servers accept (a tool's vendor would host its own). */
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json'

const serverUrl = process.argv[process.argv.length - 1]
const revision = process.env.MCP_CONFORMANCE_PROTOCOL_VERSION ?? '2025-11-25'
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Record<string, unknown>

/**
 * The scenario's data, as the library's options (what a tool's user would configure): a client id
 * and secret, a private key (private_key_jwt), the login of a service (client credentials, named by
 * the scenario as a user would choose it), or the workload's token to exchange (federation).
 */
function optionsFromContext(): Partial<CliLoginOptions> {
  const text = (key: string) => (typeof context[key] === 'string' ? (context[key] as string) : undefined)
  const options: Partial<CliLoginOptions> = { clientId: text('client_id'), clientSecret: text('client_secret'), privateKey: text('private_key_pem') }
  if (text('name')?.startsWith('auth/client-credentials-')) options.grant = 'client-credentials'
  const workloadToken = text('valid_jwt')
  if (workloadToken !== undefined) options.assertion = async () => workloadToken
  // The user's ID token at the company's identity provider (its single sign-on), for an ID-JAG.
  const idpIssuer = text('idp_issuer')
  const idToken = text('idp_id_token')
  if (idpIssuer !== undefined && idToken !== undefined) options.enterprise = { issuer: idpIssuer, clientId: text('idp_client_id') ?? '', idToken: async () => idToken }
  return options
}

/**
 * A browser that follows the authorization redirect over HTTP back to the loopback callback. When
 * the server ends anywhere else (an error page), it gives up, as a user closing the window would.
 */
function redirectFollower(giveUp: (reason: string) => void): OpenBrowser {
  return async (url) => {
    fetch(url)
      .then(async (response) => {
        await response.body?.cancel()
        const ended = new URL(response.url)
        if (ended.hostname !== '127.0.0.1') giveUp(`the authorization server did not redirect back (HTTP ${response.status} at ${ended.href})`)
      })
      .catch((error: unknown) => giveUp(`the authorization request failed: ${error instanceof Error ? error.message : String(error)}`))
    return { opened: true, command: 'http-redirect-follower' }
  }
}

// The official SDK's client speaks the stateful revisions (initialize, sessions, SSE answers);
// loaded while the login runs.
const sdk = STATEFUL_REVISIONS.includes(revision)
  ? Promise.all([import('@modelcontextprotocol/sdk/client/index.js'), import('@modelcontextprotocol/sdk/client/streamableHttp.js')])
  : undefined
sdk?.catch(() => {})

const home = await mkdtemp(join(tmpdir(), 'mcp-conformance-'))
const abandoned = new AbortController()
const auth = new CliLogin({
  appName: 'mcp-conformance-client',
  resource: serverUrl,
  clientMetadataUrl: CLIENT_METADATA_URL,
  ...optionsFromContext(),
  home,
  storage: 'file',
  // A port range of its own: the suite runs its scenarios at the same time.
  port: randomInt(20_000, 60_000),
  openBrowser: redirectFollower((reason) => abandoned.abort(new Error(reason))),
  signal: abandoned.signal,
})

/**
 * Every MCP request goes through the library's `fetch`: the session's token (refreshed when
 * needed), one forced refresh on a 401 `invalid_token`, a new login when the refreshed token is
 * still refused (the server may now name another authorization server), and step-up on a 403
 * `insufficient_scope` (the union of the scopes; at most three re-authorizations per request).
 * `interactive`: this client's "browser" may be opened for those logins.
 */
const fetchWithToken: typeof fetch = (input, init) => auth.fetch(input as string | URL, { ...init, interactive: true })

/** 2026-07-28: each request stands alone, with the revision in its header and `_meta`. */
async function statelessRequest(method: string, params: Record<string, unknown> = {}, id = 1): Promise<unknown> {
  const response = await fetchWithToken(serverUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': revision, 'mcp-method': method },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': revision,
          'io.modelcontextprotocol/clientInfo': { name: 'mcp-conformance-client', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  })
  const body = (await response.json()) as { result?: unknown; error?: { code: number; message: string } }
  if (!response.ok || body.error) throw new Error(`${method}: HTTP ${response.status} ${body.error ? `${body.error.code} ${body.error.message}` : ''}`)
  return body.result
}

async function useTools(): Promise<void> {
  if (!STATEFUL_REVISIONS.includes(revision)) {
    const { tools } = (await statelessRequest('tools/list')) as { tools: Array<{ name: string }> }
    if (tools[0]) await statelessRequest('tools/call', { name: tools[0].name, arguments: {} }, 2)
    return
  }
  const [{ Client }, { StreamableHTTPClientTransport }] = await (sdk as NonNullable<typeof sdk>)
  const client = new Client({ name: 'mcp-conformance-client', version: '1.0.0' }, { capabilities: {} })
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { fetch: fetchWithToken })
  await client.connect(transport)
  const { tools } = await client.listTools()
  if (tools[0]) await client.callTool({ name: tools[0].name, arguments: {} })
  await transport.close()
}

try {
  await auth.login()
  await useTools()
} catch (error) {
  console.error(abandoned.signal.aborted ? String(abandoned.signal.reason) : error instanceof Error ? error.message : String(error))
  process.exitCode = 1
} finally {
  await rm(home, { recursive: true, force: true })
}
