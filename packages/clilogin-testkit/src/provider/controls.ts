/** What a test does to a running provider from outside, as an admin would (on the provider's handle). */
import type { Kit } from './kit.ts'
import type { ResourceServerOptions, TestProvider } from './types.ts'

export function testControls(kit: Kit): Pick<TestProvider, 'revokeGrants' | 'expireTokens' | 'addResourceServer' | 'forgetClient'> {
  const { store } = kit
  return {
    revokeGrants(user: string): number {
      const sub = kit.users.find((candidate) => candidate.sub === user || candidate.username === user)?.sub ?? user
      let revoked = 0
      for (const [key, entry] of [...store.entries]) {
        if (!key.startsWith('Grant:') || entry.payload.accountId !== sub) continue
        const grantId = key.slice('Grant:'.length)
        for (const member of store.grantMembers.get(grantId) ?? []) store.entries.delete(member)
        store.grantMembers.delete(grantId)
        store.entries.delete(key)
        revoked += 1
      }
      return revoked
    },

    expireTokens(expireOptions: { refreshTokens?: boolean } = {}): void {
      for (const token of kit.issuedAccessTokens) kit.expiredAccessTokens.add(token)
      kit.issuedAccessTokens.clear()
      for (const key of [...store.entries.keys()]) {
        if (key.startsWith('AccessToken:') || (expireOptions.refreshTokens === true && key.startsWith('RefreshToken:'))) {
          store.entries.delete(key)
        }
      }
    },

    addResourceServer(identifier: string, resourceOptions: ResourceServerOptions = {}): void {
      kit.apiScopes[identifier] = resourceOptions.scope ?? 'read:me'
      if (!kit.audiences.includes(identifier)) kit.audiences.push(identifier)
    },

    forgetClient(clientId: string): boolean {
      return store.entries.delete(`Client:${clientId}`)
    },
  }
}
