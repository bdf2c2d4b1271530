/**
 * Where a session's token may be sent (PRODUCT.md, "Authenticated requests"): the origins the
 * session was made for — its resource (RFC 8707, as sent, and the URL it was found from), its
 * audience when that is an https URL — and those the caller lists. Pure: the CLI's cached `fetch`
 * and `git-credential` use it without the library.
 */
import { UsageError } from '../errors.ts'
import type { Session } from './session.ts'

export function sessionOrigins(session: Pick<Session, 'resource' | 'resourceUrl' | 'audience'>, allowOrigins: readonly string[] = []): string[] {
  const origins = new Set<string>()
  const add = (value: string | undefined, httpsOnly: boolean) => {
    const url = value === undefined ? undefined : URL.parse(value)
    if (!url || (url.protocol !== 'https:' && (httpsOnly || url.protocol !== 'http:'))) return
    origins.add(url.origin)
  }
  add(session.resource, false)
  add(session.resourceUrl, false)
  add(session.audience, true)
  for (const origin of allowOrigins) origins.add(originOf(origin))
  return [...origins]
}

/** An origin given by the caller (`https://api.example` or any URL on it). */
export function originOf(value: string): string {
  const url = URL.parse(value)
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin === 'null') {
    throw UsageError.forOption('allowOrigins', `must be http(s) origins such as https://api.example.com, not ${JSON.stringify(value)}`)
  }
  return url.origin
}
