// Writes sessions to one profile in a loop until killed (the SIGKILL test kills it at random moments
// after the first write, so a slow machine cannot leave the test with nothing to check).
// Usage: node session-writer.mjs <home> <profile>
import { FileSessionStore } from '../../dist/session/file-store.js'

const [home, profile] = process.argv.slice(2)
const store = new FileSessionStore(home)
for (let i = 0; ; i++) {
  // 'ready' once the first session is stored: every kill then lands while a later one is written.
  if (i === 1) process.stdout.write('ready\n')
  await store.writeSession(profile, {
    version: 1,
    issuer: 'https://tenant.auth0.com/',
    clientId: 'client',
    requestedScope: 'openid offline_access',
    tokenType: 'Bearer',
    accessToken: `access-${i}-${'x'.repeat(2000 + (i % 500))}`,
    expiresAt: 2_000_000_000,
    refreshToken: `refresh-${i}`,
    user: { sub: 'user' },
    createdAt: 1_700_000_000,
  })
}
