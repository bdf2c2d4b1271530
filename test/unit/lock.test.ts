import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile, stat, utimes } from 'node:fs/promises'
import { tmpdir, hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from 'node:child_process'
import { withFileLock } from '../../src/session/lock.ts'
import { LockTimeoutError } from '../../src/errors.ts'

/** Takes the lock at argv[1] and holds it until killed (the interval keeps the process alive). */
const HOLD_LOCK = `
const { withFileLock } = await import(${JSON.stringify(new URL('../../src/session/lock.ts', import.meta.url).href)})
setInterval(() => {}, 60_000)
await withFileLock(process.argv[1], () => { process.stdout.write('locked\\n'); return new Promise(() => {}) })
`

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

test('an old lock whose holder is alive on this machine is never taken over; an empty one is, after a grace period', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const old = JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'old', createdAt: Date.now() - 3_600_000 })
  await writeFile(lock, old)
  await assert.rejects(withFileLock(lock, async () => 1, { waitMs: 300, staleMs: 50 }), LockTimeoutError)
  assert.equal(await readFile(lock, 'utf8'), old, 'left to its holder')
  await writeFile(lock, '')
  const then = new Date(Date.now() - 10_000)
  await utimes(lock, then, then)
  assert.equal(await withFileLock(lock, async () => 2, { waitMs: 2000 }), 2)
  await rm(dir, { recursive: true })
})

test('a suspended holder (SIGSTOP) keeps the lock past every bound: waiters give up naming its pid, the lock stays its own', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', HOLD_LOCK, lock], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise((resolve) => holder.stdout.once('data', resolve))
    const held = await readFile(lock, 'utf8')
    holder.kill('SIGSTOP')
    let ran = false
    await assert.rejects(withFileLock(lock, async () => { ran = true }, { waitMs: 400, staleMs: 50, profile: 'work' }), (error: unknown) => {
      assert.ok(error instanceof LockTimeoutError)
      assert.equal(error.holderPid, holder.pid)
      assert.match(error.message, new RegExp(`pid ${holder.pid}\\).*profile "work".*still holds its lock`))
      return true
    })
    assert.equal(ran, false)
    assert.equal(await readFile(lock, 'utf8'), held)
  } finally {
    holder.kill('SIGKILL')
  }
  await rm(dir, { recursive: true })
})

test('a holder that has ended but not been reaped (a zombie) keeps no lock', { skip: process.platform !== 'linux' && 'process states are read from /proc' }, async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  // The shell execs into sleep, whose child exits at once and is never reaped while sleep runs.
  const parent = spawn('/bin/sh', ['-c', 'sh -c "echo \\$\\$; exit 0" & exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()))))
    for (let i = 0; i < 200 && !(await readFile(`/proc/${pid}/stat`, 'utf8')).includes(') Z '); i++) await sleep(10)
    await writeFile(lock, JSON.stringify({ pid, host: hostname(), nonce: 'zombie', createdAt: Date.now() }))
    assert.equal(await withFileLock(lock, async () => 'ran', { waitMs: 2000 }), 'ran')
  } finally {
    parent.kill('SIGKILL')
  }
  await rm(dir, { recursive: true })
})

test('a pid that was reused by another process does not keep a dead holder\'s lock', { skip: process.platform !== 'linux' && 'process start times are read from /proc' }, async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'before-reuse', createdAt: Date.now(), started: '1' }))
  assert.equal(await withFileLock(lock, async () => 'ran', { waitMs: 2000 }), 'ran')
  await rm(dir, { recursive: true })
})

test('a lock of another host: taken over once its renewals stop, never while they go on', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  const remote = (renewals: number) => JSON.stringify({ pid: 1, host: 'elsewhere.invalid', nonce: 'remote', createdAt: Date.now() - 3_600_000, renewals })
  await writeFile(lock, remote(0))
  let renewals = 0
  const renewing = setInterval(() => void writeFile(lock, remote(++renewals)), 30)
  await assert.rejects(withFileLock(lock, async () => {}, { waitMs: 600, staleMs: 200 }), LockTimeoutError)
  clearInterval(renewing)
  await sleep(50)
  const started = Date.now()
  assert.equal(await withFileLock(lock, async () => 'taken over', { waitMs: 5000, staleMs: 200 }), 'taken over')
  assert.ok(Date.now() - started >= 200, 'only after staleMs without a renewal')
  await rm(dir, { recursive: true })
})

test('the holder renews its lock while it holds it', async () => {
  const dir = await tempDir()
  const lock = join(dir, 'x.lock')
  await withFileLock(lock, async () => {
    const first = JSON.parse(await readFile(lock, 'utf8'))
    await sleep(120)
    const later = JSON.parse(await readFile(lock, 'utf8'))
    assert.equal(later.nonce, first.nonce)
    assert.ok((later.renewals ?? 0) > (first.renewals ?? 0), `renewals ${first.renewals} → ${later.renewals}`)
  }, { renewMs: 20 })
  assert.deepEqual(await readdir(dir), [], 'released, and no staged owner file left behind')
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
