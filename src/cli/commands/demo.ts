import { CliLogin } from '../../cli-login.ts'
import { nowSeconds } from '../../system.ts'
import { libraryOptions, type CommandOptions } from '../args.ts'
import type { CliContext } from '../io.ts'
import { baseOptions, describeStatus, loginCallbacks } from './shared.ts'

type TestKit = typeof import('clilogin-testkit')

/** Starts the test kit's identity provider on loopback and runs the whole login against it. */
export async function runDemo(flags: CommandOptions<'demo'>, ctx: CliContext): Promise<number> {
  const kit = await loadTestKit()
  if (!kit) {
    ctx.err('cli-login demo needs the test kit: npm install --save-dev clilogin-testkit')
    return 1
  }
  const { startTestProvider, DEMO_CLIENT_ID, DEMO_USERS } = kit
  const user = DEMO_USERS[0]
  const provider = await startTestProvider({ prefillUsername: user.username })
  try {
    ctx.err(`Demo identity provider running at ${provider.issuer}`)
    ctx.err(`Sign in as user "${user.username}" with password "${user.password}" (pre-filled).`)
    const auth = new CliLogin({
      ...baseOptions(ctx),
      ...loginCallbacks(ctx),
      ...libraryOptions('demo', flags).options,
      rememberSettings: false,
      issuer: provider.issuer,
      clientId: DEMO_CLIENT_ID,
      profile: flags.profile ?? 'demo',
    })
    await auth.login()
    const status = await auth.status()
    if (status) for (const line of describeStatus(status, nowSeconds(ctx.system))) ctx.out(line)
    ctx.err(`Logged in. Try: cli-login token --profile ${auth.profile}   (the demo provider stops now, so the token is only good for its lifetime)`)
    return 0
  } finally {
    await provider.close()
  }
}

/** The test kit, or undefined where it is not installed (it is a separate package, for tool authors). */
async function loadTestKit(): Promise<TestKit | undefined> {
  try {
    return await import('clilogin-testkit')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined
    throw error
  }
}
