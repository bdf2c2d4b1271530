import { writeSync } from 'node:fs'

/**
 * Writes every byte to a file descriptor, synchronously: the CLI's output needs no stream objects
 * (creating process.stdout/stderr costs milliseconds on every `cli-login token`), and nothing is
 * lost when the process exits right after. Also copes with a non-blocking pipe that takes the
 * bytes in parts.
 */
export function writeAllSync(fd: number, text: string | Uint8Array): void {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  for (let offset = 0; offset < bytes.length; ) {
    try {
      offset += writeSync(fd, bytes, offset)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EPIPE') return // the reader is gone (`cli-login callback-urls | head -1`): nothing more to say
      if (code !== 'EAGAIN') throw error
    }
  }
}
