/**
 * Reads back a QR code as the CLI prints it in a terminal (Unicode half blocks: each character is
 * two modules, top and bottom; █ both light, ▀ top light, ▄ bottom light, space both dark) with an
 * independent decoder (jsQR, not the encoder's own code): the picture a phone's camera would see.
 */
import { createRequire } from 'node:module'

// CommonJS whose module.exports is the function itself (its types declare only a default export).
const jsQR = createRequire(import.meta.url)('jsqr') as typeof import('jsqr').default

const LIGHT_TOP = new Set(['█', '▀'])
const LIGHT_BOTTOM = new Set(['█', '▄'])
/** Lines made of half blocks only: the QR code among the CLI's other lines. */
export const QR_LINE = /^[█▀▄ ]+$/

export function qrLines(text: string): string[] {
  return text.split('\n').filter((line) => QR_LINE.test(line) && line.trim() !== '')
}

/** The text the QR code in these lines holds, or undefined when none can be read. */
export function decodeTerminalQr(lines: string[]): string | undefined {
  const modules: boolean[][] = [] // true = light
  for (const line of lines) {
    const chars = [...line]
    modules.push(chars.map((c) => LIGHT_TOP.has(c)), chars.map((c) => LIGHT_BOTTOM.has(c)))
  }
  const scale = 6
  const margin = 4 * scale
  const width = Math.max(...modules.map((row) => row.length)) * scale + 2 * margin
  const height = modules.length * scale + 2 * margin
  const pixels = new Uint8ClampedArray(width * height * 4).fill(255)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const row = modules[Math.floor((y - margin) / scale)]
      const light = y < margin || x < margin || row === undefined ? true : (row[Math.floor((x - margin) / scale)] ?? true)
      if (!light) pixels.fill(0, (y * width + x) * 4, (y * width + x) * 4 + 3)
    }
  }
  return jsQR(pixels, width, height, { inversionAttempts: 'attemptBoth' })?.data
}
