/**
 * Loads the CLI's own CommonJS bundles (dist/*.cjs) with V8's code cache, what Node 22's
 * `module.enableCompileCache()` does and Node 20 has not: compiling cli.cjs and openid-client.cjs
 * is a sixth of a `token` that refreshes. bin/cli-login.cjs loads cli.cjs through here (and the
 * bundles it requires, openid-client.cjs among them).
 *
 * The cache is not a secret but it is code: it lives in the user's cache directory
 * (`$XDG_CACHE_HOME/cli-login`, else `~/.cache/cli-login`, absolute paths only), is read only from
 * a directory and files of the user's own that nobody else can write, and is written (0600, in a
 * 0700 directory, renamed into place) only when missing or refused by V8. Its name carries the
 * bundle's size, mtime and inode and Node's version: V8 itself checks only its version, flags and
 * the source's length. Anything wrong with it costs a compile, never the command.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs'
import { basename, dirname, isAbsolute, join } from 'node:path'
import Module from 'node:module'
import { Script } from 'node:vm'
import { isOwnAndTight, LOOSE_DIRECTORY_BITS } from '../session/dir-safety.ts'

type Wrapper = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void

const moduleCache = (Module as unknown as { _cache: Record<string, Module | undefined> })._cache

/** `require(file)` for one of the CLI's bundles; their own `require('./<bundle>.cjs')` come here too. */
export function requireBundle(file: string, env: NodeJS.ProcessEnv = process.env): unknown {
  // In require.cache like any module: a later require() of the file, and tools that look, find it.
  const known = moduleCache[file]
  if (known) return known.exports
  const source = readFileSync(file, 'utf8')
  const cacheFile = cachePath(file, env)
  const cachedData = cacheFile ? readCache(cacheFile) : undefined
  // No import() in these bundles (scripts/bundle-cli.mjs makes them require()): Node 20 loses the
  // dynamic-import callback of a script compiled from cached data.
  const script = new Script(Module.wrap(source), { filename: file, cachedData })
  if (cacheFile && (!cachedData || script.cachedDataRejected)) {
    // After the command ran: the cache then holds the functions it compiled lazily too.
    process.once('exit', () => writeCache(cacheFile, () => script.createCachedData()))
  }
  const module = new Module(file)
  module.filename = file
  module.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file))
  moduleCache[file] = module
  const plainRequire = Module.createRequire(file)
  const bundleRequire = Object.assign((id: string) => (isSiblingBundle(id) ? requireBundle(join(dirname(file), id), env) : plainRequire(id)), plainRequire) as NodeJS.Require
  try {
    ;(script.runInThisContext() as Wrapper).call(module.exports, module.exports, bundleRequire, module, file, dirname(file))
  } catch (error) {
    delete moduleCache[file]
    throw error
  }
  module.loaded = true
  return module.exports
}

function isSiblingBundle(id: string): boolean {
  return id.startsWith('./') && id.endsWith('.cjs') && !id.includes('/', 2)
}

/** Undefined when there is no usable cache directory (then nothing is cached). */
export function cachePath(file: string, env: NodeJS.ProcessEnv): string | undefined {
  const dir = cacheDir(env)
  if (!dir) return undefined
  let stats: Stats
  try {
    stats = statSync(file)
  } catch {
    return undefined
  }
  const name = `${basename(file)}-${stats.size}-${Math.floor(stats.mtimeMs)}-${stats.ino}-${process.version}-${process.arch}.v8`
  return join(dir, name)
}

function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME
  if (xdg && isAbsolute(xdg)) return join(xdg, 'cli-login')
  const home = env.HOME
  return home && isAbsolute(home) ? join(home, '.cache', 'cli-login') : undefined
}

/** The user's own, and nobody else can write (where there are uids): else it is not ours to trust. */
function isOwnAndClosed(stats: Stats, uid: number | undefined): boolean {
  return uid === undefined || isOwnAndTight(stats, uid, LOOSE_DIRECTORY_BITS)
}

function readCache(cacheFile: string): Buffer | undefined {
  const uid = process.getuid?.()
  try {
    const dir = lstatSync(dirname(cacheFile))
    if (!dir.isDirectory() || !isOwnAndClosed(dir, uid)) return undefined
    const fd = openSync(cacheFile, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      const stats = fstatSync(fd)
      if (!stats.isFile() || !isOwnAndClosed(stats, uid)) return undefined
      return readFileSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
}

/** Written in place of the bundle's earlier caches (another version's, another Node's). */
function writeCache(cacheFile: string, data: () => Buffer): void {
  const dir = dirname(cacheFile)
  const staged = `${cacheFile}.${process.pid}.tmp`
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const stats = lstatSync(dir)
    if (!stats.isDirectory() || !isOwnAndClosed(stats, process.getuid?.())) return
    writeFileSync(staged, data(), { mode: 0o600, flag: 'wx' })
    renameSync(staged, cacheFile)
    const bundle = `${basename(cacheFile).split('.cjs-')[0]}.cjs-`
    for (const name of readdirSync(dir)) {
      if (name.startsWith(bundle) && name !== basename(cacheFile) && !name.endsWith('.tmp')) rmSync(join(dir, name), { force: true })
    }
  } catch {
    // a cache that cannot be written is only a compile next time
    rmSync(staged, { force: true })
  }
}
