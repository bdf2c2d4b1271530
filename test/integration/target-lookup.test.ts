/**
 * A token for another resource of the same login (RFC 8707) whose server has no protected resource
 * metadata: the metadata is looked for once, at the target's first token (enterprise-managed
 * authorization needs to know whether another server issues it), not again at every refresh; and a
 * target the provider refuses (invalid_target) is that target's error, never the session's end.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_SECOND_AUDIENCE, startTestProvider, type TestProvider } from 'clilogin-testkit'
import { libraryLogins } from '../helpers/library-logins.ts'

let provider: TestProvider
const logins = libraryLogins()
/** Each lookup of a resource's metadata, as the library tells its debug hook. */
const looked: string[] = []
const onDebug = (line: string) => {
  if (line.startsWith('enterprise: no protected resource metadata')) looked.push(line)
}

before(async () => {
  provider = await startTestProvider()
  logins.closeAfter(() => provider.close())
})

test("another resource's token: its metadata is looked for at the first token only, not at every refresh of it", async () => {
  // A login for one of the kit's APIs is granted the other too (its refresh token gets either, RFC 8707).
  const auth = logins.auth({ issuer: provider.issuer, clientId: DEMO_CLIENT_ID, audience: DEMO_AUDIENCE, storage: 'file', onDebug })
  await auth.login()
  const first = await auth.getAccessToken({ resource: DEMO_SECOND_AUDIENCE })
  const afterFirst = looked.length
  assert.ok(afterFirst >= 1, 'the first token of the target looked for its metadata')
  const refreshes = provider.stats.grants.refresh_token ?? 0
  const again = await auth.getAccessToken({ resource: DEMO_SECOND_AUDIENCE, forceRefresh: true })
  assert.notEqual(again.access_token, first.access_token)
  assert.equal(provider.stats.grants.refresh_token, refreshes + 1, 'got with the refresh token')
  assert.equal(looked.length, afterFirst, 'no second lookup')
})

test('a resource the provider refuses (invalid_target): an error for that call; the session goes on', async () => {
  const auth = logins.auth({ issuer: provider.issuer, clientId: DEMO_CLIENT_ID, storage: 'file', onDebug })
  await auth.login()
  await assert.rejects(auth.getAccessToken({ resource: 'https://unknown.example/' }), (error: unknown) => (error as { code?: string }).code !== 'SESSION_EXPIRED')
  // Not marked expired by cli-login (whether the provider kept the refresh token is the provider's:
  // oidc-provider consumes it before it checks the resource).
  const status = await auth.status()
  assert.equal(status?.session_expired ?? false, false, 'the session is not marked expired')
})
