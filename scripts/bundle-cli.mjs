// Bundles the CLI into CommonJS files in dist/. Loading CommonJS is what keeps `cli-login token`
// close to Node's own start-up time (ESM loading alone costs ~10% more):
// - token-fast.cjs: `token` when the stored token is fresh (bin/cli-login.cjs tries it first);
// - fetch-fast.cjs: `fetch` when the stored token is fresh (the request sent, no protocol code);
// - cli.cjs: every command; other commands' code is in the file but runs only when its command does;
// - compile-cache.cjs: loads the others with V8's code cache (src/cli/compile-cache.ts);
// - openid-client.cjs: openid-client (with oauth4webapi and the parts of jose it uses) as one
//   CommonJS file, required only when a command talks to the provider. Loaded through Node's ESM
//   loader, openid-client costs a login ~8 MiB of memory and a refresh tens of milliseconds; bundled,
//   about 1 MiB. (The library, dist/index.js, imports openid-client from node_modules as usual.)
// Other dependencies stay external and are loaded, lazily, from node_modules; so does the test kit
// (`clilogin-testkit`, a separate package that only `demo` loads).
import { build } from 'esbuild'

const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', packages: 'external', external: ['clilogin-testkit'], logLevel: 'warning', logOverride: { 'empty-import-meta': 'silent' } }

/** In cli.cjs, `import('openid-client')` and `import * as client from 'openid-client'` load dist/openid-client.cjs. */
const openidClientApart = {
  name: 'openid-client-apart',
  setup(build) {
    build.onResolve({ filter: /^openid-client$/ }, () => ({ path: './openid-client.cjs', external: true }))
  },
}

/**
 * In token-fast.cjs, the keychain module (needed only for a session kept in the keychain) is
 * dist/token-keychain.cjs: in the bundle it would be parsed on every `cli-login token`. (Only the
 * fast path: its keychain errors just hand over to the full CLI, which has its own copy.)
 */
const keychainApart = {
  name: 'keychain-apart',
  setup(build) {
    build.onResolve({ filter: /\/session\/keychain\.ts$/ }, () => ({ path: './token-keychain.cjs', external: true }))
  },
}

await Promise.all([
  // import() as require() (Node >= 20.19 requires ES modules, open's among them): a script compiled
  // from V8's code cache (compile-cache.cjs) loses Node 20's dynamic-import callback.
  build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.cjs', plugins: [openidClientApart], supported: { 'dynamic-import': false } }),
  // Its one dynamic import (the keychain) as require(): import() would start Node's ESM loader, tens of milliseconds.
  build({ ...common, entryPoints: ['src/cli/token-fast.ts'], outfile: 'dist/token-fast.cjs', plugins: [keychainApart], supported: { 'dynamic-import': false } }),
  // The same for `fetch`'s cached path (its one dynamic import: node:https, for an https URL).
  build({ ...common, entryPoints: ['src/cli/fetch-fast.ts'], outfile: 'dist/fetch-fast.cjs', plugins: [keychainApart], supported: { 'dynamic-import': false } }),
  build({ ...common, entryPoints: ['src/session/keychain.ts'], outfile: 'dist/token-keychain.cjs' }),
  // bin/cli-login.cjs loads the bundles above through this one (V8's code cache, see its comment).
  build({ ...common, entryPoints: ['src/cli/compile-cache.ts'], outfile: 'dist/compile-cache.cjs' }),
  // Minified (names kept: error classes are told apart by name): third-party code nobody reads in dist/.
  build({ ...common, packages: undefined, external: [], minify: true, keepNames: true, stdin: { contents: "export * from 'openid-client'", resolveDir: '.', loader: 'js' }, outfile: 'dist/openid-client.cjs' }),
])
