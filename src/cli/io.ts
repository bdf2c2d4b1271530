import type { System } from '../system.ts'
import type { PasteInput } from './paste-back.ts'

/** What a command may touch: data goes to `out` (stdout), messages to `err` (stderr). */
export interface CliContext {
  out(line: string): void
  err(line: string): void
  system: System
  /** Aborted on Ctrl-C. */
  signal: AbortSignal
  /** CLI_LOGIN_DEBUG=1 */
  debug: boolean
  /** Standard input when it is a terminal (a person who can paste), else undefined. */
  terminalInput(): PasteInput | undefined
  /** All of standard input (`fetch -d @-`). */
  readStdin(): Promise<Uint8Array>
  /** Bytes to stdout as they are (`fetch`'s body: binary-safe, no line added). */
  writeOut(bytes: Uint8Array): void
  /** `fetch`: the WWW-Authenticate its cached path was refused with (the request was sent already). */
  readonly handover: { refusedWith?: string }
}
