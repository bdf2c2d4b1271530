import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, stat, utimes } from 'node:fs/promises'
import { tmpdir, hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from 'node:child_process'
import { withFileLock } from '../../src/session/lock.ts'
import { LockTimeoutError } from '../../src/errors.ts'

async function tempDir() {
  return mkdtemp(join(tmpdir(), 'cli-login-lock-'))
}

test('holders run one at a time and the lock is gone afterwards', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  let inside = 0
  let maxInside = 0
  await Promise.all(
    Array.from({ length: 10 }, () =>
      withFileLock(lock, async () => {
        inside++
        maxInside = Math.max(maxInside, inside)
        await sleep(5)
        inside--
      }),
    ),
  )
  assert.equal(maxInside, 1)
  await assert.rejects(stat(lock), { code: 'ENOENT' })
  await rm(dir, { recursive: true })
})

test('a lock whose holder died is taken over', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const child = spawn(process.execPath, ['-e', '0'])
  await new Promise((resolve) => child.on('exit', resolve))
  await writeFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), nonce: 'dead', createdAt: Date.now() }))
  const started = Date.now()
  assert.equal(await withFileLock(lock, async () => 'ran', { waitMs: 5000 }), 'ran')
  assert.ok(Date.now() - started < 2000)
  await rm(dir, { recursive: true })
})

test('an old lock is stale even if its pid is alive; an empty one after a grace period', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'old', createdAt: Date.now() - 120_000 }))
  assert.equal(await withFileLock(lock, async () => 1, { waitMs: 2000, staleMs: 60_000 }), 1)
  await writeFile(lock, '')
  const old = new Date(Date.now() - 10_000)
  await utimes(lock, old, old)
  assert.equal(await withFileLock(lock, async () => 2, { waitMs: 2000 }), 2)
  await rm(dir, { recursive: true })
})

test('a live holder makes waiters give up after waitMs with LockTimeoutError', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  let release!: () => void
  const holding = withFileLock(lock, () => new Promise<void>((resolve) => (release = resolve)))
  await sleep(20)
  await assert.rejects(withFileLock(lock, async () => {}, { waitMs: 300, profile: 'work' }), (error: unknown) => {
    assert.ok(error instanceof LockTimeoutError)
    assert.match(error.message, /profile "work"/)
    return true
  })
  release()
  await holding
  await rm(dir, { recursive: true })
})

test("the fast path's handover lock is adopted by this process's withFileLock, and only by it", async () => {
  const { takeLockForHandover, isLockHeld } = await import('../../src/session/lock.ts')
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const release = takeLockForHandover(lock)
  assert.ok(release, 'taken')
  assert.equal(takeLockForHandover(lock), undefined, 'a second taker finds it held')
  assert.equal(isLockHeld(lock), true)
  let ran = false
  await withFileLock(lock, async () => {
    ran = true
  }, { waitMs: 200 })
  assert.ok(ran, 'adopted at once, not waited for')
  await assert.rejects(stat(lock), { code: 'ENOENT' }, 'released by the adopter')
  assert.equal(isLockHeld(lock), false)
  await rm(dir, { recursive: true })
})

test("another process's handover lock is waited for like any lock; release() removes only its own", async () => {
  const { takeLockForHandover } = await import('../../src/session/lock.ts')
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'])
  try {
    await writeFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), nonce: 'theirs', createdAt: Date.now(), handover: true }))
    await assert.rejects(withFileLock(lock, async () => {}, { waitMs: 150 }), LockTimeoutError)
    assert.equal(takeLockForHandover(lock), undefined)
  } finally {
    child.kill()
  }
  const other = join(dir, 'y.lock')
  const release = takeLockForHandover(other)!
  await writeFile(other, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'adopted', createdAt: Date.now() }))
  release()
  await stat(other) // still there: it is no longer the handover lock release() took
  await rm(dir, { recursive: true })
})

test('isLockHeld: a live holder yes; a dead one, none, or an old unwritten file no; a fresh unwritten file yes', async () => {
  const { isLockHeld } = await import('../../src/session/lock.ts')
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  assert.equal(isLockHeld(lock), false)
  await writeFile(lock, '')
  assert.equal(isLockHeld(lock), true, 'being written')
  await utimes(lock, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000))
  assert.equal(isLockHeld(lock), false, 'never written')
  const child = spawn(process.execPath, ['-e', '0'])
  await new Promise((resolve) => child.on('exit', resolve))
  await writeFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), nonce: 'dead', createdAt: Date.now() }))
  assert.equal(isLockHeld(lock), false)
  await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'me', createdAt: Date.now() }))
  assert.equal(isLockHeld(lock), true)
  await rm(dir, { recursive: true })
})
