// A BROWSER command for tests of tools that open the browser themselves: signs in over HTTP at the
// URL it is given (the last argument), with the test kit's browser double, as $BROWSER_USER.
import { DEMO_USERS, loginOverHttp } from 'clilogin-testkit'

const user = DEMO_USERS.find((u) => u.username === (process.env.BROWSER_USER ?? 'alice')) ?? DEMO_USERS[0]
await loginOverHttp(process.argv.at(-1), { username: user.username, password: user.password })
