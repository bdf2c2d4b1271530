// Takes a profile's lock and holds it until killed (the stale-lock test SIGKILLs it).
// Usage: node lock-holder.mjs <home> <profile>
import { FileSessionStore } from '../../dist/session/file-store.js'

const [home, profile] = process.argv.slice(2)
setInterval(() => {}, 60_000) // keeps the process alive: a pending promise alone does not
await new FileSessionStore(home).withLock(profile, () => {
  process.stdout.write('locked\n')
  return new Promise(() => {})
})
