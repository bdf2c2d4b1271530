/**
 * An MCP client's login with cli-login: the server's URL is all it needs (RFC 9728 discovery,
 * dynamic client registration, `resource` on every token request). `loginCommand()` is the tool's
 * `acme login`; `callTool()` is any command that talks to the server. ACME_MCP_URL only lets the
 * tests point it at the test kit's protected resource.
 */
// #region mcp
import { CliLogin, LoginRequiredError } from 'clilogin'

const MCP_URL = process.env.ACME_MCP_URL ?? 'https://mcp.example.com/mcp'
const auth = new CliLogin({ appName: 'acme', resource: MCP_URL })

export async function loginCommand() {
  await auth.login() // discovery, registration, browser; the registration is kept in the session
}

export async function callTool(body: unknown) {
  try {
    // The token only to this server, refreshed (with the same resource) and retried once on a
    // 401 invalid_token; a 403 insufficient_scope throws InsufficientScopeError (a LoginRequiredError).
    return await auth.fetch(MCP_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(body),
    })
  } catch (error) {
    if (error instanceof LoginRequiredError) console.error(error.message) // "… run acme login"
    throw error
  }
}
// #endregion mcp
