// A BROWSER command for tests of a tool that runs as a child process: signs in as alice over HTTP
// at the URL it is given (the last argument), as the test kit's browser double does in-process.
import { DEMO_USERS, loginOverHttp } from 'clilogin-testkit'

const [alice] = DEMO_USERS
await loginOverHttp(process.argv.at(-1), { username: alice.username, password: alice.password })
