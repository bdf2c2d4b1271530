/**
 * Paste-back for the CLI: while `login` waits for the loopback redirect, the lines typed (pasted)
 * on the terminal are handed to the library as addresses (library option `pastedAddresses`), which
 * checks each like the redirect. Only for a terminal: a script's stdin is not a person pasting.
 */

export type PasteInput = NodeJS.ReadableStream & { isTTY?: boolean }

/** The lines of `input` until the signal aborts (then the reader lets go of the stream). */
export function pastedLines(input: PasteInput): (signal: AbortSignal) => AsyncIterable<string> {
  return (signal) => ({
    async *[Symbol.asyncIterator]() {
      if (signal.aborted) return
      // terminal: false leaves the terminal cooked: it echoes, and Ctrl-C stays a signal.
      // node:readline only now: every command (token's refresh too) would load it at start.
      const lines = process.getBuiltinModule('node:readline').createInterface({ input, terminal: false, crlfDelay: Infinity })
      const stop = (): void => lines.close()
      signal.addEventListener('abort', stop, { once: true })
      try {
        yield* lines
      } finally {
        signal.removeEventListener('abort', stop)
        lines.close()
        input.pause()
      }
    },
  })
}
