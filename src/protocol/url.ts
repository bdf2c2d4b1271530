/** Plain http is allowed only for a provider on the loopback interface (the embedded provider, tests). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
}
