/**
 * The setup of tests that log in through the library (`new CliLogin(…)`) with the test kit's
 * browser double: a temporary home, a free range of 4 ports, a new profile per login unless one is
 * given, and whatever the test starts closed after it.
 */
import { after, before } from 'node:test'
import { createBrowserDouble } from 'clilogin-testkit'
import { CliLogin, type CliLoginOptions } from '../../src/index.ts'
import { makeTempHome } from './cli.ts'
import { findFreePortRange } from './ports.ts'

export interface LibraryLogins {
  /** The temporary home directory (sessions are under `<home>/profiles/<profile>`). */
  readonly home: string
  /** The first port of the range every login listens on. */
  readonly firstPort: number
  /** The profile the last `auth()` without a `profile` of its own was given. */
  readonly lastProfile: string
  /** A CliLogin for app `acme` on a new profile (unless `profile` is given), signing in with `browser`. */
  auth(options?: Partial<CliLoginOptions>, browser?: ReturnType<typeof createBrowserDouble>): CliLogin
  /** Runs `close` after the tests of the file, last started first. */
  closeAfter(close: () => Promise<void>): void
}

export function libraryLogins(defaults: Partial<CliLoginOptions> = {}): LibraryLogins {
  let home: Awaited<ReturnType<typeof makeTempHome>>
  let firstPort = 0
  let profiles = 0
  const closers: Array<() => Promise<void>> = []
  before(async () => {
    home = await makeTempHome()
    firstPort = await findFreePortRange(4)
  })
  after(async () => {
    for (const close of closers.reverse()) await close()
    await home.cleanup()
  })
  return {
    get home() {
      return home.dir
    },
    get firstPort() {
      return firstPort
    },
    get lastProfile() {
      return `p${profiles}`
    },
    auth(options = {}, browser = createBrowserDouble()) {
      return new CliLogin({ appName: 'acme', home: home.dir, profile: `p${++profiles}`, port: firstPort, portAttempts: 4, openBrowser: browser.openBrowser, ...defaults, ...options })
    },
    closeAfter(close) {
      closers.push(close)
    },
  }
}
