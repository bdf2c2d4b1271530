/** The demo users, clients and APIs every test provider has. */
import type { DemoUser } from './types.ts'

/** The users every provider has unless `users` is given: alice and bob. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  Object.freeze({ sub: 'auth0|alice', username: 'alice', password: 'alice-demo-password', email: 'alice@example.com', name: 'Alice Liddell' }),
  Object.freeze({ sub: 'auth0|bob', username: 'bob', password: 'bob-demo-password', email: 'bob@example.com', name: 'Bob Builder' }),
])

/** A public native client (no secret), registered on every provider. */
export const DEMO_CLIENT_ID = 'cli-login-demo'
/** A confidential client (DEMO_CLIENT_SECRET, in the body or HTTP Basic), registered on every provider. */
export const DEMO_CONFIDENTIAL_CLIENT_ID = 'cli-login-demo-secret'
/** A demo value, not a secret: the provider only ever listens on loopback. */
export const DEMO_CLIENT_SECRET: string = 'cli-login-demo-client-secret-not-for-production'
/** The API (Auth0 `audience`) every provider knows; access tokens for it are RS256 JWTs. */
export const DEMO_AUDIENCE = 'https://api.demo.cli-login.test/'
/**
 * A second API. A login for DEMO_AUDIENCE may get tokens for it with its refresh token, as Auth0's
 * multi-resource refresh tokens allow (refresh with `audience` or `resource`).
 */
export const DEMO_SECOND_AUDIENCE = 'https://billing.demo.cli-login.test/'

/** The scopes tokens for the demo API (and for the `audiences` a test adds) may carry. */
export const DEMO_API_SCOPE = 'openid profile email offline_access read:me'
/** The scopes tokens for DEMO_SECOND_AUDIENCE may carry. */
export const DEMO_SECOND_API_SCOPE = 'openid offline_access read:invoices'
