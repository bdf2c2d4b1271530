// Bundles the CLI into one CommonJS file, dist/cli.cjs. Loading one CommonJS file is what keeps
// `cli-login token` close to Node's own start-up time (ESM loading alone costs ~10% more); the
// code of other commands is in the file but only runs when its command does. Dependencies stay
// external and are loaded, lazily, from node_modules.
import { build } from 'esbuild'

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})

await build({
  entryPoints: ['src/cli/token-fast.ts'],
  outfile: 'dist/token-fast.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})
