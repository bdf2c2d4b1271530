/**
 * Pure: is there no browser this process could open for its user? No I/O.
 */

export type HeadlessReason = 'ssh' | 'no-display'

/**
 * - `SSH_CONNECTION` or `SSH_TTY` set (non-empty) → 'ssh': a browser would open on the remote
 *   machine, not in front of the user;
 * - Linux, not WSL, with neither `DISPLAY` nor `WAYLAND_DISPLAY` → 'no-display'. WSL (`WSL_DISTRO_NAME`
 *   or `WSL_INTEROP` set) is not headless: the Windows browser can be opened without a display;
 * - else undefined.
 */
export function headlessReason(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): HeadlessReason | undefined {
  if (isSet(env.SSH_CONNECTION) || isSet(env.SSH_TTY)) return 'ssh'
  if (platform === 'linux' && !isWsl(env) && !isSet(env.DISPLAY) && !isSet(env.WAYLAND_DISPLAY)) {
    return 'no-display'
  }
  return undefined
}

function isWsl(env: NodeJS.ProcessEnv): boolean {
  return isSet(env.WSL_DISTRO_NAME) || isSet(env.WSL_INTEROP)
}

function isSet(value: string | undefined): boolean {
  return value !== undefined && value !== ''
}
