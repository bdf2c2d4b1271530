// Bundles the CLI into CommonJS files in dist/. Loading CommonJS is what keeps `cli-login token`
// close to Node's own start-up time (ESM loading alone costs ~10% more):
// - token-fast.cjs: `token` when the stored token is fresh (bin/cli-login.cjs tries it first);
// - cli.cjs: every command; other commands' code is in the file but runs only when its command does;
// - demo-provider.cjs: the embedded identity provider, the largest part, loaded only by `demo`.
// Dependencies stay external and are loaded, lazily, from node_modules.
import { build } from 'esbuild'

const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', packages: 'external', logLevel: 'warning' }

/** Keeps the demo provider out of cli.cjs: `import('../../demo/provider.ts')` loads dist/demo-provider.cjs. */
const demoProviderApart = {
  name: 'demo-provider-apart',
  setup(build) {
    build.onResolve({ filter: /\/demo\/provider\.ts$/ }, () => ({ path: './demo-provider.cjs', external: true }))
  },
}

await Promise.all([
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.cjs', plugins: [demoProviderApart] }),
  build({ ...common, entryPoints: ['src/cli/token-fast.ts'], outfile: 'dist/token-fast.cjs' }),
  build({ ...common, entryPoints: ['src/demo/provider.ts'], outfile: 'dist/demo-provider.cjs' }),
])
