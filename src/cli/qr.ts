/**
 * `--qr`: the URL to open as a QR code in the terminal, for a phone's camera. The encoder (uqr, no
 * dependencies of its own) is loaded only when asked: never on `token`'s path.
 */
import { nodeRequire } from '../node-require.ts'

/** Longer URLs make QR codes too dense to scan from a terminal (the contract's limit). */
export const QR_MAX_URL_LENGTH = 256

/** The QR code's lines (Unicode half blocks), for a URL of at most QR_MAX_URL_LENGTH characters. */
export type QrRenderer = (url: string) => string[]

export function loadQrRenderer(): QrRenderer {
  // As CommonJS, like the rest of the CLI (its ESM build would go through the slower ESM loader).
  const { renderUnicodeCompact } = nodeRequire()('uqr') as typeof import('uqr')
  // A quiet zone of 2 modules: enough for phone cameras, and the code stays small.
  return (url) => renderUnicodeCompact(url, { border: 2, ecc: 'L' }).split('\n')
}

/** Why there is no QR code for a URL, or undefined when there can be one. */
export function noQrReason(url: string): string | undefined {
  if (url.length <= QR_MAX_URL_LENGTH) return undefined
  return `No QR code: the URL is ${url.length} characters, more than the ${QR_MAX_URL_LENGTH} a terminal QR code can hold legibly (a provider with pushed authorization requests, or --device, gives a short one).`
}
