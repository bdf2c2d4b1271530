/**
 * A real terminal for the CLI: tmux on a private socket, a window of its own, keys typed with
 * send-keys and the screen read with capture-pane (wrapped lines joined). Install: scripts/ci/install-tmux.sh.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'

export function isTmuxInstalled(): boolean {
  return spawnSync('tmux', ['-V']).status === 0
}

export interface Terminal {
  /** Types the text literally (as a paste does), then Enter. */
  typeLine(text: string): void
  /** The screen and its scrollback, wrapped lines joined, no trailing spaces. */
  screen(): string
  /** Resolves with the screen once `pattern` appears on it; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  close(): void
}

/** Runs `argv` (with `env`, nothing else) in a new tmux session; the pane stays once it exits, with "[exit N]" written. */
export function startTerminal(argv: string[], env: NodeJS.ProcessEnv, { width = 200, height = 50 } = {}): Terminal {
  const socket = `cli-login-test-${randomBytes(6).toString('hex')}`
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`
  const assignments = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quote(v!)}`)
  const command = `env -i ${assignments.join(' ')} ${argv.map(quote).join(' ')}; echo "[exit $?]"; sleep 3600`
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' })
  // The server this starts outlives the call: it must not hold our pipes open.
  execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', String(width), '-y', String(height), '-s', 'cli', command], { stdio: 'ignore' })
  tmux('set-option', '-g', 'history-limit', '5000')
  const terminal: Terminal = {
    typeLine(text) {
      tmux('send-keys', '-t', 'cli', '-l', text)
      tmux('send-keys', '-t', 'cli', 'Enter')
    },
    // -J keeps the spaces that pad a joined line: drop them, so a line ends where its text does.
    screen: () => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'cli').replace(/ +$/gm, ''),
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const screen = terminal.screen()
        if (pattern.test(screen)) return screen
        if (Date.now() > deadline) throw new Error(`${pattern} did not appear in the terminal within ${timeoutMs} ms:\n${screen}`)
        // A screen has no event to wait on: look again shortly.
        await sleep(50)
      }
    },
    close() {
      spawnSync('tmux', ['-L', socket, 'kill-server'])
    },
  }
  return terminal
}
