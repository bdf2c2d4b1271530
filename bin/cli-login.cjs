#!/usr/bin/env node
'use strict'
// CommonJS on purpose: see scripts/bundle-cli.mjs. `token` is first tried by a small bundle: it
// prints a fresh token (from the file, or from the keychain), or waits for the one another process
// is refreshing (or says why it gave up waiting, with its exit code). Once it has answered, the
// process exits: a keychain connection must not delay it. The full CLI loads with V8's code cache
// (src/cli/compile-cache.ts); the small bundle compiles faster than its cache would load.
const answered = process.argv[2] === 'token' && require('../dist/token-fast.cjs').tryFreshToken(process.argv.slice(3), process.env)
const run = () => require('../dist/compile-cache.cjs').requireBundle(require('node:path').join(__dirname, '..', 'dist', 'cli.cjs')).run()
if (answered === false) run()
else if (answered !== true) answered.then((done) => (done ? process.exit() : run()))
