/**
 * The fetch used for every request to the provider. It honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY
 * (either case) from the given environment — a provider on loopback included, unless NO_PROXY
 * lists it. Node's own fetch is used when no proxy is set (undici, with its proxy agent, is loaded
 * only when one is). Certificates from NODE_EXTRA_CA_CERTS are trusted either way: Node adds them
 * to its default CA store at start-up.
 */
export function proxySettings(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') }
}

export function createProviderFetch(env: NodeJS.ProcessEnv): typeof fetch {
  const { httpProxy, httpsProxy, noProxy } = proxySettings(env)
  if (!httpProxy && !httpsProxy) return globalThis.fetch
  let proxied: Promise<typeof fetch> | undefined
  return async (input, init) => {
    proxied ??= import('undici').then(({ EnvHttpProxyAgent, fetch: undiciFetch }) => {
      const dispatcher = new EnvHttpProxyAgent({ httpProxy, httpsProxy: httpsProxy ?? httpProxy, noProxy: noProxy ?? '' })
      return ((url: Parameters<typeof fetch>[0], options?: RequestInit) => undiciFetch(url as string, { ...(options as object), dispatcher } as never)) as unknown as typeof fetch
    })
    return (await proxied)(input, init)
  }
}
