#!/usr/bin/env node
// A company CLI that embeds cli-login: `mytool login`, `mytool whoami`, `mytool logout`.
// Configuration would normally be baked in; here it comes from MYTOOL_* env vars so the test can
// point it at the embedded provider.
import { CliLogin, CliLoginError, LoginRequiredError } from 'clilogin'

const auth = new CliLogin({
  appName: 'mytool', // sessions in ~/.config/mytool, "run mytool login" in messages, "mytool" on the pages
  issuer: process.env.MYTOOL_ISSUER ?? 'https://mycompany.eu.auth0.com/',
  clientId: process.env.MYTOOL_CLIENT_ID ?? 'mytool-native-client',
  audience: process.env.MYTOOL_AUDIENCE ?? 'https://api.mycompany.example/',
  port: process.env.MYTOOL_PORT ? Number(process.env.MYTOOL_PORT) : undefined,
  onAuthorizationUrl: ({ url, browser }) => {
    console.error(browser.opened ? 'Opened your browser to log in. If nothing happened, open:' : 'Open this URL to log in:')
    console.error(url)
  },
})
const apiUrl = process.env.MYTOOL_API_URL ?? 'https://api.mycompany.example/'

async function main(command) {
  switch (command) {
    case 'login': {
      const who = await auth.login()
      console.error(`Logged in as ${who.name ?? who.subject}.`)
      return 0
    }
    case 'whoami': {
      const { access_token } = await auth.getAccessToken()
      const response = await fetch(new URL('api/me', apiUrl), { headers: { authorization: `Bearer ${access_token}` } })
      if (!response.ok) {
        console.error(`mytool: the API answered ${response.status}`)
        return 1
      }
      const me = await response.json()
      console.log(`${me.name} <${me.email}>`)
      return 0
    }
    case 'logout':
      await auth.logout()
      console.error('Logged out.')
      return 0
    default:
      console.error('usage: mytool login | whoami | logout')
      return 2
  }
}

try {
  process.exitCode = await main(process.argv[2])
} catch (error) {
  if (error instanceof LoginRequiredError) {
    console.error(`mytool: ${error.message}`) // e.g. "not logged in: run mytool login"
    process.exitCode = 4
  } else if (error instanceof CliLoginError) {
    console.error(`mytool: ${error.message}`)
    process.exitCode = 1
  } else {
    throw error
  }
}
