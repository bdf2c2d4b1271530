/**
 * The OS keychain behind one small seam: macOS Keychain, Windows Credential Manager, the Secret
 * Service on Linux, through `@napi-rs/keyring` (the maintained binding; keytar is archived). The
 * session store sits on `Keychain`; tests put an in-memory fake behind the same seam.
 *
 * The binding is loaded only when a keychain is used (`createRequire` inside `loadBinding`), so a
 * `cli-login token` with file storage never pays for the native module.
 *
 * What the binding does, found out on Linux (Debian 12, gnome-keyring 42, @napi-rs/keyring 2.1.2):
 * - Without `{ linux: { store: 'secret-service' } }` it silently falls back to the kernel keyring
 *   (keyutils, in memory, gone at reboot) when there is no Secret Service: a "successful" write that
 *   is lost. We always pin the Secret Service, so no bus means an error, never a silent fallback.
 * - A pinned entry connects to the session bus in its constructor, synchronously, on the calling
 *   thread — for `AsyncEntry` too. A bus that accepts the connection but never answers (a stopped
 *   dbus-daemon) blocks that constructor with no timeout. The calls themselves (get/set/delete,
 *   sync or async) give up after the binding's 2 s D-Bus reply timeout when the keyring daemon
 *   hangs. A worker thread does not bound the constructor: Node cannot end a thread stuck in native
 *   code, and `process.exit()` then waits for it. So the probe runs the round trip in a child process
 *   it can kill (`probe()` below); the in-process calls first check from JavaScript that the bus
 *   answers at all (`checkSessionBus`, bounded), then use `AsyncEntry` (libuv thread pool), which
 *   keeps the event loop free while D-Bus answers.
 * - libdbus reads DBUS_SESSION_BUS_ADDRESS once per process: changing it later in the same process
 *   has no effect (the probe's child gets the environment it is given).
 * - Items are Secret Service items with the attributes `service` and `username` (our account) and
 *   the label `keyring:<account>@<service>`: `secret-tool lookup service <appName> username <account>`
 *   finds them.
 * - Errors are plain `Error`s with `code: 'GenericFailure'` and a message such as
 *   `Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files`.
 */
import type { NetConnectOpts } from 'node:net'
import { join } from 'node:path'
import type * as Binding from '@napi-rs/keyring'
import { ErrorCode, KeychainError } from '../errors.ts'
import { nodeRequire } from '../node-require.ts'

export interface Keychain {
  /** The secret, or undefined when there is no such item. */
  get(service: string, account: string): Promise<string | undefined>
  set(service: string, account: string, secret: string): Promise<void>
  /** true when an item was deleted, false when there was none. */
  delete(service: string, account: string): Promise<boolean>
  /**
   * A keychain whose calls can block the thread (the native one) probes itself in a way that can be
   * bounded; `probeKeychain` uses this when it is there.
   */
  probe?(options: { timeoutMs: number }): Promise<ProbeResult>
}

export type ProbeResult = { ok: true } | { ok: false; reason: string }

export { KeychainError } from '../errors.ts'
/** KeychainError's code (ErrorCode.KEYCHAIN_UNAVAILABLE). */
export const KEYCHAIN_UNAVAILABLE = ErrorCode.KEYCHAIN_UNAVAILABLE

/**
 * Item naming. service = the embedding tool's `appName` (e.g. `cli-login`); account =
 * `<profile>/<item>` (e.g. `default/refresh_token`).
 * - The service is what the OS shows the user ("Where" in Keychain Access, the target in Credential
 *   Manager, `service` in Seahorse/secret-tool): the tool's own name is what they recognise, and
 *   every item of one tool shares it, so "all of acme's items" is one search
 *   (`findCredentials(service)`, `secret-tool search service acme`) — for logout of every profile or
 *   for finding what a crash left behind. Putting the profile in the service would scatter them.
 * - Profile names are `[A-Za-z0-9][A-Za-z0-9._-]{0,63}` (src/session/paths.ts): no `/`, so
 *   `<profile>/<item>` is unambiguous, and item names (`refresh_token`, `access_token@<target>`, …)
 *   may contain anything but `#`, which marks the parts of a split secret (below).
 */
/**
 * The items a session keeps (session/keychain-store.ts): its own access token alone, so that the
 * token fast path (cli/token-fast.ts) reads one small item, and every other secret in one JSON item;
 * a login started and not yet finished has its own (session/pending-login.ts).
 */
export const SESSION_ITEMS = { accessToken: 'access_token', secrets: 'secrets', pendingLogin: 'pending_login' } as const

export function keychainAccount(profile: string, item: string): string {
  if (profile.includes('/') || profile.length === 0) throw new TypeError(`invalid profile for a keychain account: ${JSON.stringify(profile)}`)
  if (item.includes('#') || item.length === 0) throw new TypeError(`invalid keychain item name: ${JSON.stringify(item)}`)
  return `${profile}/${item}`
}

// ---------------------------------------------------------------------------------------------
// Large secrets. Windows Credential Manager caps a credential blob at 2,560 bytes
// (CRED_MAX_CREDENTIAL_BLOB_SIZE) and keyring-rs stores a password there as UTF-16: 1,280 UTF-16
// code units, while a JWT access or ID token with a few claims is easily 1–4 kB. So every secret
// goes through setLarge/getLarge/deleteLarge, on every OS (one format everywhere, one code path
// tested): a secret that fits is one item under <account>; a longer one is cut into parts stored
// under <account>#<slot>.<i>, and <account> holds a header `cli-login-split:v1:<slot>:<n>`.
// Writes are ordered so a crash never leaves a header that points at half-written parts: the new
// parts go to the slot the current header does NOT use (slots `a`/`b`), the header is written last
// (the commit), then the old slot's parts are deleted. Deletes remove parts until one is missing,
// so parts orphaned by an earlier crash go too.
// ---------------------------------------------------------------------------------------------

/** CRED_MAX_CREDENTIAL_BLOB_SIZE, in bytes; keyring-rs writes the password as UTF-16LE. */
export const WINDOWS_SECRET_MAX_BYTES = 2560
const SPLIT_PREFIX = 'cli-login-split:v1:'
const SPLIT_HEADER = /^cli-login-split:v1:([ab]):([1-9][0-9]{0,3})$/
const MAX_PARTS = 1000

export interface SplitOptions {
  /** Largest secret one item may hold, counted as UTF-16 bytes (Windows). */
  maxBytes?: number
}

/** Bytes of `text` as UTF-16 (what Windows Credential Manager counts). */
export function utf16Bytes(text: string): number {
  return text.length * 2
}

export async function setLarge(keychain: Keychain, service: string, account: string, secret: string, options: SplitOptions = {}): Promise<void> {
  const maxBytes = options.maxBytes ?? WINDOWS_SECRET_MAX_BYTES
  const previous = parseHeader(await keychain.get(service, account))
  if (utf16Bytes(secret) <= maxBytes && !secret.startsWith(SPLIT_PREFIX)) {
    await keychain.set(service, account, secret)
    if (previous) await deleteParts(keychain, service, account, previous.slot)
    return
  }
  const parts = splitByUtf16Bytes(secret, maxBytes)
  if (parts.length > MAX_PARTS) throw new RangeError(`secret too large for the keychain: ${parts.length} parts`)
  const slot = previous?.slot === 'a' ? 'b' : 'a'
  for (const [index, part] of parts.entries()) await keychain.set(service, partAccount(account, slot, index), part)
  // Parts beyond the new count, left by a write that crashed before its header, go now.
  await deleteParts(keychain, service, account, slot, parts.length)
  await keychain.set(service, account, `${SPLIT_PREFIX}${slot}:${parts.length}`)
  if (previous) await deleteParts(keychain, service, account, previous.slot)
}

export async function getLarge(keychain: Keychain, service: string, account: string): Promise<string | undefined> {
  const value = await keychain.get(service, account)
  const header = parseHeader(value)
  if (!header) return value
  const parts: string[] = []
  for (let index = 0; index < header.count; index++) {
    const part = await keychain.get(service, partAccount(account, header.slot, index))
    if (part === undefined) {
      throw new KeychainError('get', service, account, `part ${index + 1} of ${header.count} is missing`)
    }
    parts.push(part)
  }
  return parts.join('')
}

/** true when there was something to delete. */
export async function deleteLarge(keychain: Keychain, service: string, account: string): Promise<boolean> {
  const header = parseHeader(await keychain.get(service, account))
  // The header goes first: from then on no reader follows it to parts that are being deleted.
  const deleted = await keychain.delete(service, account)
  let parts = 0
  for (const slot of header ? [header.slot, other(header.slot)] : (['a', 'b'] as const)) {
    parts += await deleteParts(keychain, service, account, slot)
  }
  return deleted || parts > 0
}

function partAccount(account: string, slot: 'a' | 'b', index: number): string {
  return `${account}#${slot}.${index}`
}

function parseHeader(value: string | undefined): { slot: 'a' | 'b'; count: number } | undefined {
  const match = value === undefined ? null : SPLIT_HEADER.exec(value)
  return match ? { slot: match[1] as 'a' | 'b', count: Number(match[2]) } : undefined
}

function other(slot: 'a' | 'b'): 'a' | 'b' {
  return slot === 'a' ? 'b' : 'a'
}

/** Deletes <account>#<slot>.<from>, .<from+1>, … until one is missing; returns how many went. */
async function deleteParts(keychain: Keychain, service: string, account: string, slot: 'a' | 'b', from = 0): Promise<number> {
  let index = from
  while (index < from + MAX_PARTS && (await keychain.delete(service, partAccount(account, slot, index)))) index++
  return index - from
}

/** Cuts text into pieces of at most maxBytes UTF-16 bytes, never inside a surrogate pair. */
export function splitByUtf16Bytes(text: string, maxBytes: number): string[] {
  const maxUnits = Math.floor(maxBytes / 2)
  if (maxUnits < 2) throw new RangeError(`maxBytes too small: ${maxBytes}`)
  const parts: string[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + maxUnits, text.length)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end-- // keep a high surrogate with its low half
    parts.push(text.slice(start, end))
    start = end
  }
  return parts
}

// ---------------------------------------------------------------------------------------------
// The probe
// ---------------------------------------------------------------------------------------------

export interface ProbeOptions {
  /** The whole write–read–delete round trip must end within this; default 2,000 ms. */
  timeoutMs?: number
  /** Where the test item goes; default service `cli-login`, account `.probe/<random>`. */
  service?: string
}

/**
 * Writes, reads back and deletes a test item; `{ ok: false, reason }` (one line) on any failure or
 * when the round trip takes longer than timeoutMs. Never throws.
 */
export async function probeKeychain(keychain: Keychain, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 2000
  if (keychain.probe) return keychain.probe({ timeoutMs })
  const service = options.service ?? 'cli-login'
  const account = probeAccount()
  const value = builtin('node:crypto').randomBytes(12).toString('base64url')
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer from the keychain within ${timeoutMs} ms` }), timeoutMs)
  })
  const roundTrip = (async (): Promise<ProbeResult> => {
    await keychain.set(service, account, value)
    const read = await keychain.get(service, account)
    await keychain.delete(service, account)
    return read === value ? { ok: true } : { ok: false, reason: 'the keychain did not return what was written' }
  })().catch((error: unknown): ProbeResult => ({ ok: false, reason: reasonOf(error) }))
  try {
    return await Promise.race([roundTrip, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function probeAccount(): string {
  // A profile name cannot start with '.', so the probe never collides with a real profile's item.
  return `.probe/${process.pid}-${builtin('node:crypto').randomBytes(4).toString('hex')}`
}

// ---------------------------------------------------------------------------------------------
// The native keychain
// ---------------------------------------------------------------------------------------------

/**
 * A Node built-in loaded when first used: this module is part of every command that may touch a
 * session (the CLI bundles it), while the probe's child process, the bus check's socket and its
 * random names are needed only with the keychain.
 */
function builtin<T extends 'node:crypto' | 'node:net' | 'node:child_process'>(name: T) {
  return process.getBuiltinModule(name) as T extends 'node:crypto' ? typeof import('node:crypto') : T extends 'node:net' ? typeof import('node:net') : typeof import('node:child_process')
}

type BindingModule = typeof Binding
let binding: BindingModule | undefined

function loadBinding(): BindingModule {
  if (!binding) {
    try {
      binding = nodeRequire()('@napi-rs/keyring') as BindingModule
    } catch (error) {
      throw new KeychainError('probe', '-', '-', `the keychain module @napi-rs/keyring could not be loaded for ${process.platform}-${process.arch}`, { cause: error })
    }
  }
  return binding
}

/** Entry options: on Linux, the Secret Service and nothing else (see the top of this file). */
const ENTRY_OPTIONS: Binding.EntryOptions = { linux: { store: 'secret-service' } }

export interface NativeKeychainOptions {
  /** Environment for the probe's child process (DBUS_SESSION_BUS_ADDRESS, HOME, …); default process.env. */
  env?: NodeJS.ProcessEnv
  /**
   * Linux: before each call, how long the session bus may take to answer a D-Bus AUTH from plain
   * JavaScript (see checkSessionBus); default 2,000 ms. 0 turns the check off.
   */
  busTimeoutMs?: number
  /** The service the probe's test item is written under; default `cli-login`. */
  probeService?: string
}

/** The OS keychain through @napi-rs/keyring. Nothing is loaded until the first call. */
export function nativeKeychain(options: NativeKeychainOptions = {}): Keychain {
  const busTimeoutMs = options.busTimeoutMs ?? 2000
  const entry = async (operation: KeychainError['operation'], service: string, account: string): Promise<Binding.AsyncEntry> => {
    // The binding's constructor would block this thread for good on a bus that does not answer.
    // The check's round trip runs while the binding loads (a synchronous require, ~7 ms).
    const busCheck = process.platform === 'linux' && busTimeoutMs > 0 ? checkSessionBus(process.env, busTimeoutMs) : undefined
    const loaded = (() => {
      try {
        return { binding: loadBinding() }
      } catch (error) {
        return { error }
      }
    })()
    const problem = await busCheck
    if (problem) throw new KeychainError(operation, service, account, problem)
    if (!loaded.binding) throw loaded.error
    const { AsyncEntry } = loaded.binding
    try {
      return new AsyncEntry(service, account, ENTRY_OPTIONS)
    } catch (error) {
      throw new KeychainError(operation, service, account, reasonOf(error), { cause: error })
    }
  }
  return {
    async get(service, account) {
      try {
        return (await (await entry('get', service, account)).getPassword()) ?? undefined
      } catch (error) {
        throw asKeychainError(error, 'get', service, account)
      }
    },
    async set(service, account, secret) {
      try {
        await (await entry('set', service, account)).setPassword(secret)
      } catch (error) {
        throw asKeychainError(error, 'set', service, account, secret)
      }
    },
    async delete(service, account) {
      try {
        return await (await entry('delete', service, account)).deleteCredential()
      } catch (error) {
        throw asKeychainError(error, 'delete', service, account)
      }
    },
    probe: ({ timeoutMs }) => probeInChild({ timeoutMs, env: options.env ?? process.env, service: options.probeService ?? 'cli-login' }),
  }
}

/**
 * Does the session bus answer? Connects to DBUS_SESSION_BUS_ADDRESS (unix path, abstract socket or
 * tcp; else $XDG_RUNTIME_DIR/bus, libdbus's own default) and sends the first line of the D-Bus
 * handshake (`AUTH EXTERNAL <uid>`); any answer (OK, REJECTED) means the bus is alive. A stopped or
 * wedged dbus-daemon still accepts the connection in the kernel but never answers: that is the
 * case in which the binding's constructor blocks forever, and here it becomes a reason after
 * timeoutMs. undefined = fine (or an address kind we do not check: the binding reports on it).
 * About a millisecond when the bus is well; a race, not a guarantee (the bus could wedge just after).
 */
export async function checkSessionBus(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string | undefined> {
  const target = sessionBusSocket(env)
  if (!target) return undefined
  const where = 'path' in target ? target.path.replace('\0', '@') : `${target.host}:${target.port}`
  return new Promise((resolve) => {
    const socket = builtin('node:net').connect(target)
    let settled = false
    const finish = (problem: string | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(problem)
    }
    const timer = setTimeout(() => finish(`the D-Bus session bus did not answer within ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => {
      const uid = String(process.getuid?.() ?? 0)
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`)
    })
    socket.on('data', () => finish(undefined))
    socket.once('error', (error: NodeJS.ErrnoException) => finish(`cannot connect to the D-Bus session bus at ${where}: ${error.code ?? error.message}`))
    socket.once('close', () => finish('the D-Bus session bus closed the connection'))
  })
}

function sessionBusSocket(env: NodeJS.ProcessEnv): NetConnectOpts | undefined {
  const address = env.DBUS_SESSION_BUS_ADDRESS
  if (!address) return env.XDG_RUNTIME_DIR ? { path: join(env.XDG_RUNTIME_DIR, 'bus') } : undefined
  // Several addresses may be given (`;`); libdbus tries them in order: check the first.
  const [transport, rest = ''] = (address.split(';')[0] ?? '').split(/:(.*)/s)
  const keys = new Map(rest.split(',').map((pair) => {
    const at = pair.indexOf('=')
    return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))] as const
  }))
  if (transport === 'unix' && keys.has('path')) return { path: keys.get('path')! }
  if (transport === 'unix' && keys.has('abstract')) return { path: `\0${keys.get('abstract')!}` }
  if (transport === 'tcp' && keys.has('port')) return { host: keys.get('host') ?? 'localhost', port: Number(keys.get('port')) }
  return undefined
}

/**
 * The round trip in a child process, killed when it takes longer than timeoutMs: the binding's
 * constructor can block its thread forever on a bus that does not answer. The child gets no secret
 * (it makes up its own test value) and answers one JSON line.
 */
function probeInChild(options: { timeoutMs: number; env: NodeJS.ProcessEnv; service: string }): Promise<ProbeResult> {
  let modulePath: string
  try {
    modulePath = nodeRequire().resolve('@napi-rs/keyring')
  } catch {
    return Promise.resolve({ ok: false, reason: `the keychain module @napi-rs/keyring is not installed for ${process.platform}-${process.arch}` })
  }
  return new Promise((resolve) => {
    const child = builtin('node:child_process').spawn(process.execPath, ['-e', PROBE_CHILD, modulePath, options.service, probeAccount()], {
      env: options.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let out = ''
    let settled = false
    const finish = (result: ProbeResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({ ok: false, reason: `no answer from the keychain within ${options.timeoutMs} ms` })
    }, options.timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.once('error', (error) => finish({ ok: false, reason: reasonOf(error) }))
    child.once('close', (code) => {
      try {
        const answer = JSON.parse(out) as ProbeResult
        finish(answer.ok ? { ok: true } : { ok: false, reason: oneLine(String(answer.reason)) })
      } catch {
        finish({ ok: false, reason: `the keychain probe ended without an answer (exit ${code})` })
      }
    })
  })
}

// Run with `node -e`; argv: module path, service, account. CommonJS, no dependencies.
const PROBE_CHILD = `
const [modulePath, service, account] = process.argv.slice(1)
const answer = (result) => process.stdout.write(JSON.stringify(result) + '\\n')
try {
  const { Entry } = require(modulePath)
  const entry = new Entry(service, account, { linux: { store: 'secret-service' } })
  const value = require('node:crypto').randomBytes(12).toString('base64url')
  entry.setPassword(value)
  const read = entry.getPassword()
  entry.deleteCredential()
  answer(read === value ? { ok: true } : { ok: false, reason: 'the keychain did not return what was written' })
} catch (error) {
  answer({ ok: false, reason: String(error && error.message || error) })
}
`

function asKeychainError(error: unknown, operation: KeychainError['operation'], service: string, account: string, secret?: string): KeychainError {
  if (error instanceof KeychainError) return error
  let reason = reasonOf(error)
  if (secret && reason.includes(secret)) reason = reason.split(secret).join('<secret>')
  return new KeychainError(operation, service, account, reason, { cause: error })
}

function reasonOf(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error))
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 197)}...` : line
}
