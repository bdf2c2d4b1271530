// Gives an ESM build in <dist> a CommonJS face, for `require()` consumers and their type checkers:
// - <dist>/index.cjs loads the ES module itself (require(esm), Node >= 20.19 — the engines floor),
//   so both module systems share one copy of every class and `instanceof` holds across them;
// - every <dist>/**/*.d.ts gets a .d.cts twin whose relative imports name .cjs, so TypeScript reads
//   the whole declaration tree as CommonJS (node16 resolution) and finds the same types.
// Usage: node scripts/cjs-entry.mjs <dist>
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const dist = process.argv[2]
if (!dist) throw new Error('usage: node scripts/cjs-entry.mjs <dist>')

await writeFile(join(dist, 'index.cjs'), "'use strict'\nmodule.exports = require('./index.js')\n")

const relativeJs = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.js\2/g
for (const entry of await readdir(dist, { recursive: true })) {
  if (!entry.endsWith('.d.ts')) continue
  const source = await readFile(join(dist, entry), 'utf8')
  await writeFile(join(dist, entry.replace(/\.d\.ts$/, '.d.cts')), source.replace(relativeJs, '$1$2$3.cjs$2'))
}
