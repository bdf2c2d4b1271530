/**
 * `require`, for a dependency loaded only when needed as CommonJS (the keychain binding, the QR
 * encoder). ESM (tsc's output, the tests): from import.meta.url. The CLI bundle is CommonJS
 * (scripts/bundle-cli.mjs, esbuild), where import.meta is empty and `require` is the module's own —
 * resolving from the bundle's place, next to node_modules.
 */
export function nodeRequire(): NodeJS.Require {
  // node:module only now (not imported at the top): loading it costs every command memory.
  return typeof import.meta.url === 'string' ? process.getBuiltinModule('node:module').createRequire(import.meta.url) : require
}
