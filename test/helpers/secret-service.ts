/**
 * A real Secret Service for tests, without a GUI and without touching the user's own session:
 * a PRIVATE D-Bus session bus (its own config and socket in a temporary directory, no service
 * activation, so nothing on the machine can be started on it behind our back) and Debian's
 * `gnome-keyring-daemon --foreground --unlock --components=secrets` on it, its `login` keyring
 * created with a throwaway password read from stdin, so it is unlocked and needs no prompt. HOME,
 * XDG_DATA_HOME (the keyring files: <dir>/data/keyrings), XDG_CONFIG_HOME and XDG_RUNTIME_DIR (the
 * daemon's control socket) all point into the temporary directory.
 *
 * `env` is what a child process (or this one, for the native binding) needs to talk to it.
 * `stop()` kills both processes and removes the directory. `killKeyring()` kills only the keyring
 * daemon (the bus stays up, so a client gets "no such name" rather than "no bus").
 *
 * `noBusEnv()` is the other fixture: an environment with a bus address that nothing listens on, for
 * the fallback and failure cases.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface SecretService {
  /** DBUS_SESSION_BUS_ADDRESS, HOME, XDG_* — merge into a child's environment (or process.env). */
  env: Record<string, string>
  /** The temporary directory holding the bus socket, the home and the keyring files. */
  dir: string
  /** Process ids of the two daemons (a test may SIGSTOP one to simulate a hung keyring). */
  pids: { bus: number; keyring: number }
  /** Kill the keyring daemon only (SIGKILL); the bus stays up. */
  killKeyring(): Promise<void>
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 10_000
const SECRETS_NAME = 'org.freedesktop.secrets'

/** Whether the Debian packages the fixture needs are installed (scripts/ci/install-secret-service.sh). */
export function isSecretServiceInstalled(): boolean {
  return ['dbus-daemon', 'gnome-keyring-daemon', 'secret-tool', 'dbus-send'].every(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0,
  )
}

export async function startSecretService(): Promise<SecretService> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-secret-service-'))
  const home = join(dir, 'home')
  const runtime = join(dir, 'run')
  for (const sub of [home, runtime, join(dir, 'data'), join(dir, 'config')]) await mkdir(sub, { recursive: true, mode: 0o700 })
  const socket = join(dir, 'bus')
  const configFile = join(dir, 'bus.conf')
  await writeFile(configFile, [
    '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
    ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
    '<busconfig>',
    '  <type>session</type>',
    `  <listen>unix:path=${socket}</listen>`,
    '  <auth>EXTERNAL</auth>',
    '  <policy context="default">',
    '    <allow send_destination="*" eavesdrop="true"/>',
    '    <allow eavesdrop="true"/>',
    '    <allow own="*"/>',
    '  </policy>',
    '</busconfig>',
    '',
  ].join('\n'))

  const children: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) await kill(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const bus = spawn('dbus-daemon', ['--config-file', configFile, '--nofork', '--print-address=1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(bus)
    const address = (await firstLine(bus, 'dbus-daemon')).trim()
    const env: Record<string, string> = {
      DBUS_SESSION_BUS_ADDRESS: address,
      HOME: home,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_RUNTIME_DIR: runtime,
    }
    const childEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }
    const keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      env: childEnv,
      stdio: ['pipe', 'ignore', 'pipe'],
    })
    children.push(keyring)
    let keyringErr = ''
    keyring.stderr!.on('data', (chunk: Buffer) => { keyringErr += chunk.toString() })
    // The login keyring's password, read from stdin: the daemon creates the keyring with it and
    // leaves it unlocked. It must not be empty — an empty stdin means "no password" and the daemon
    // then creates no keyring at all (every write fails with "Object does not exist … /login").
    // A throwaway: the keyring lives and dies in the temporary directory.
    keyring.stdin!.end('cli-login-test-keyring')
    await waitForName(childEnv, SECRETS_NAME, keyring, () => keyringErr)
    return {
      env,
      dir,
      pids: { bus: bus.pid!, keyring: keyring.pid! },
      killKeyring: () => kill(keyring, 'SIGKILL'),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * An environment with no session bus: the address names a socket that does not exist (an unset
 * variable would let libdbus try X11 autolaunch on some systems), and HOME/XDG_* point at a fresh
 * empty directory, so nothing of the real user's leaks in.
 */
export async function noBusEnv(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cli-login-no-bus-'))
  return {
    env: {
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-bus-here')}`,
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_RUNTIME_DIR: dir,
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

/**
 * Runs the keyring's own client, `secret-tool`, against the fixture. A secret to store goes on
 * stdin, never in the arguments.
 */
export function secretTool(env: Record<string, string>, args: string[], stdin?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('secret-tool', args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    input: stdin ?? '',
    encoding: 'utf8',
    timeout: 10_000,
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function firstLine(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${READY_TIMEOUT_MS} ms: ${err.trim()}`)), READY_TIMEOUT_MS)
    child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const end = out.indexOf('\n')
      if (end >= 0) {
        clearTimeout(timer)
        resolve(out.slice(0, end))
      }
    })
    child.once('error', (error) => { clearTimeout(timer); reject(error) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${err.trim()}`)) })
  })
}

async function waitForName(env: Record<string, string>, name: string, owner: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (owner.exitCode !== null || owner.signalCode !== null) {
      throw new Error(`gnome-keyring-daemon exited (${owner.exitCode ?? owner.signalCode}): ${stderr().trim()}`)
    }
    const reply = spawnSync('dbus-send', [
      '--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner', `string:${name}`,
    ], { env, encoding: 'utf8', timeout: 2000 })
    if (reply.status === 0 && /boolean true/.test(reply.stdout)) return
    await sleep(50)
  }
  throw new Error(`${name} did not appear on the private bus within ${READY_TIMEOUT_MS} ms: ${stderr().trim()}`)
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timedOut = await Promise.race([exited.then(() => false), sleep(3000, undefined, { ref: false }).then(() => true)])
  if (timedOut) {
    child.kill('SIGKILL')
    await exited
  }
}
