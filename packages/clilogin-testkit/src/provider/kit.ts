/**
 * What every part of one running provider shares: its options resolved, its store, signing key,
 * faults and stats. startTestProvider() (index.ts) makes one and hands it to each part.
 */
import type { DemoStore } from './adapter.ts'
import type { SigningKey } from './keys.ts'
import type { DemoUser, TestProviderFaults, TestProviderStats } from './types.ts'

export interface Kit {
  readonly issuer: string
  readonly users: readonly DemoUser[]
  /** The user whose username and password the sign-in form is pre-filled with (`prefillUsername`). */
  readonly prefillUser: DemoUser | undefined
  /** `discovery: 'oauth2'`: a plain OAuth 2 server, nothing OpenID in its metadata or answers. */
  readonly plainOAuth2: boolean
  /** Every API (audience / resource indicator) the provider accepts → the scopes its tokens may carry. */
  readonly apiScopes: Record<string, string>
  /** The keys of apiScopes, in the order they were added. */
  readonly audiences: string[]
  readonly store: DemoStore
  readonly signingKey: SigningKey
  readonly faults: TestProviderFaults
  readonly stats: TestProviderStats
  /** Access tokens handed out by the token endpoint (JWTs are not stored), so expireTokens() reaches them. */
  readonly issuedAccessTokens: Set<string>
  /** Tokens of an exchanged assertion (federation.ts) → the workload its assertion named. */
  readonly assertionSubjects: Map<string, string>
  /** Access tokens expireTokens() made invalid. */
  readonly expiredAccessTokens: Set<string>
  /** Clients whose token requests need a DPoP proof (TestClient `dpop`). */
  readonly dpopClients: ReadonlySet<string>
}

export function findUser(kit: Kit, sub: string): DemoUser | undefined {
  return kit.users.find((user) => user.sub === sub)
}
