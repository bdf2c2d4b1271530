#!/usr/bin/env node
'use strict'
// CommonJS on purpose: see scripts/bundle-cli.mjs. `token` is first tried by a small bundle: it
// prints a fresh token (from the file, or from the keychain), or waits for the one another process
// is refreshing (or says why it gave up waiting, with its exit code). Once it has answered, the
// process exits: a keychain connection must not delay it. `fetch` likewise: with a fresh token in
// the file, a small bundle sends the request; anything more is handed to the full CLI (with the
// standard input it read). The full CLI loads with V8's code cache (src/cli/compile-cache.ts); the
// small bundles compile faster than their cache would load.
const command = process.argv[2]
const run = (handover) => require('../dist/compile-cache.cjs').requireBundle(require('node:path').join(__dirname, '..', 'dist', 'cli.cjs')).run(handover)
if (command === 'fetch') {
  require('../dist/fetch-fast.cjs')
    .tryCachedFetch(process.argv.slice(3), process.env)
    .then((done) => (done === true ? process.exit() : run(done)))
} else {
  const answered = command === 'token' && require('../dist/token-fast.cjs').tryFreshToken(process.argv.slice(3), process.env)
  if (answered === false) run()
  else if (answered !== true) answered.then((done) => (done ? process.exit() : run()))
}
