import { main } from '../../src/cli/main.ts'
import { defaultSystem } from '../../src/system.ts'
import type { OpenBrowser } from '../../src/browser/open-browser.ts'
import { loginOverHttp, type HttpLoginOptions } from './http-browser.ts'

export interface MainResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs the CLI in this process (kubelogin style). When `browserLogin` is given, the authorization
 * URL the CLI prints on stderr is followed by the HTTP "browser", as a user would.
 */
export async function runMain(args: string[], env: NodeJS.ProcessEnv, browserLogin?: HttpLoginOptions): Promise<MainResult> {
  let stdout = ''
  let stderr = ''
  let browsing: Promise<unknown> | undefined
  const code = await main(args, defaultSystem({ env, platform: 'linux' }), {
    stdout: (text) => (stdout += text),
    stderr: (text) => {
      stderr += text
      const url = /^(https?:\/\/\S+)$/m.exec(text)?.[1]
      if (url && browserLogin && !browsing) browsing = loginOverHttp(url, browserLogin).catch((error) => error)
    },
  })
  await browsing
  return { code, stdout, stderr }
}

/** A browser opener for the library that completes the login over HTTP, without waiting for it. */
export function httpBrowser(login: HttpLoginOptions, seen: string[] = []): OpenBrowser {
  return async (url) => {
    seen.push(url)
    void loginOverHttp(url, login).catch(() => {})
    return { opened: true, command: 'http-browser' }
  }
}
