/** The CLI bundles' V8 code cache (src/cli/compile-cache.ts): used when it is the user's own, rebuilt when wrong, never trusted from others. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const MODULE = fileURLToPath(new URL('../../src/cli/compile-cache.ts', import.meta.url))
// Resolved here: the child runs in other directories.
const TSX = import.meta.resolve('tsx')
const temp = mkdtempSync(join(tmpdir(), 'compile-cache-'))
after(() => rmSync(temp, { recursive: true, force: true }))

/** A bundle that requires a sibling bundle and builtins, as cli.cjs does. */
function writeBundle(dir: string, answer = 42): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'sibling.cjs'), `exports.answer = ${answer}\n`)
  const main = join(dir, 'main.cjs')
  writeFileSync(main, "'use strict'\nconst { answer } = require('./sibling.cjs')\nexports.run = async () => `${answer} ${typeof require('node:os').EOL === 'string'} ${require('node:path').sep}`\n")
  return main
}

/** Loads the bundle in a child (the cache is written at its exit) and returns what run() gave. */
function load(bundle: string, env: NodeJS.ProcessEnv, cwd = temp): string {
  const script = `import { requireBundle } from ${JSON.stringify(MODULE)}\nprocess.stdout.write(await requireBundle(${JSON.stringify(bundle)}).run())\n`
  const result = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...env }, cwd, encoding: 'utf8' })
  assert.equal(result.status, 0, result.stderr)
  return result.stdout
}

function cacheFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}

describe('compile cache', () => {
  it('is written 0600 in a 0700 directory once, then used as it is', () => {
    const cacheHome = join(temp, 'cache-1')
    const bundle = writeBundle(join(temp, 'bundle-1'))
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '42 true /')
    const dir = join(cacheHome, 'cli-login')
    const files = cacheFiles(dir)
    assert.deepEqual(files.map((name) => name.split('-')[0]).sort(), ['main.cjs', 'sibling.cjs'])
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    const first = files.map((name) => statSync(join(dir, name)))
    for (const stats of first) assert.equal(stats.mode & 0o777, 0o600)
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '42 true /')
    // Accepted by V8: not written again.
    assert.deepEqual(cacheFiles(dir), files)
    assert.deepEqual(files.map((name) => statSync(join(dir, name)).ino), first.map((stats) => stats.ino))
  })

  it('refused by V8 (garbage): the command runs and the cache is written anew', () => {
    const cacheHome = join(temp, 'cache-2')
    const bundle = writeBundle(join(temp, 'bundle-2'))
    load(bundle, { XDG_CACHE_HOME: cacheHome })
    const dir = join(cacheHome, 'cli-login')
    const [main] = cacheFiles(dir).filter((name) => name.startsWith('main.cjs'))
    writeFileSync(join(dir, main), Buffer.alloc(4096, 7), { mode: 0o600 })
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '42 true /')
    assert.notDeepEqual(readFileSync(join(dir, main)), Buffer.alloc(4096, 7))
  })

  it('a changed bundle gets its own cache, and the old one is removed', () => {
    const cacheHome = join(temp, 'cache-3')
    const bundleDir = join(temp, 'bundle-3')
    const bundle = writeBundle(bundleDir)
    load(bundle, { XDG_CACHE_HOME: cacheHome })
    const before = cacheFiles(join(cacheHome, 'cli-login'))
    writeBundle(bundleDir, 7)
    utimesSync(join(bundleDir, 'sibling.cjs'), new Date(), new Date(Date.now() + 5000))
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '7 true /')
    const afterChange = cacheFiles(join(cacheHome, 'cli-login'))
    assert.equal(afterChange.length, 2)
    assert.notDeepEqual(afterChange.filter((name) => name.startsWith('sibling')), before.filter((name) => name.startsWith('sibling')))
  })

  it('a directory others can write is neither read nor written', () => {
    const cacheHome = join(temp, 'cache-4')
    const dir = join(cacheHome, 'cli-login')
    mkdirSync(dir, { recursive: true })
    chmodSync(dir, 0o777)
    const bundle = writeBundle(join(temp, 'bundle-4'))
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '42 true /')
    assert.deepEqual(cacheFiles(dir), [])
  })

  it('a symlink at the cache file is not followed: its target is left alone', () => {
    const cacheHome = join(temp, 'cache-5')
    const bundle = writeBundle(join(temp, 'bundle-5'))
    load(bundle, { XDG_CACHE_HOME: cacheHome })
    const dir = join(cacheHome, 'cli-login')
    const [main] = cacheFiles(dir).filter((name) => name.startsWith('main.cjs'))
    const target = join(temp, 'elsewhere-5')
    writeFileSync(target, 'not a cache')
    rmSync(join(dir, main))
    symlinkSync(target, join(dir, main))
    assert.equal(load(bundle, { XDG_CACHE_HOME: cacheHome }), '42 true /')
    assert.equal(readFileSync(target, 'utf8'), 'not a cache')
    assert.equal(statSync(join(dir, main)).isFile(), true)
  })

  it("the CLI's bundles use no import() (a script from cached data cannot)", () => {
    const dist = fileURLToPath(new URL('../../dist/', import.meta.url))
    for (const name of ['cli.cjs', 'token-fast.cjs', 'openid-client.cjs', 'token-keychain.cjs']) {
      assert.doesNotMatch(readFileSync(join(dist, name), 'utf8'), /\bimport\(/, name)
    }
  })

  it('no absolute cache home (relative XDG_CACHE_HOME, no HOME): nothing is written, not under the current directory either', () => {
    const cwd = join(temp, 'cwd-6')
    mkdirSync(cwd)
    const bundle = writeBundle(join(temp, 'bundle-6'))
    assert.equal(load(bundle, { XDG_CACHE_HOME: 'relative', HOME: '' }, cwd), '42 true /')
    assert.deepEqual(cacheFiles(cwd), [])
  })
})
