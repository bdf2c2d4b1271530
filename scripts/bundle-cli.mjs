// Bundles the CLI into CommonJS files in dist/. Loading CommonJS is what keeps `cli-login token`
// close to Node's own start-up time (ESM loading alone costs ~10% more):
// - token-fast.cjs: `token` when the stored token is fresh (bin/cli-login.cjs tries it first);
// - cli.cjs: every command; other commands' code is in the file but runs only when its command does.
// Dependencies stay external and are loaded, lazily, from node_modules; so does the test kit
// (`cli-login-testkit`, a separate package that only `demo` loads).
import { build } from 'esbuild'

const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', packages: 'external', external: ['cli-login-testkit'], logLevel: 'warning', logOverride: { 'empty-import-meta': 'silent' } }

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.cjs' }),
  build({ ...common, entryPoints: ['src/cli/token-fast.ts'], outfile: 'dist/token-fast.cjs' }),
])
