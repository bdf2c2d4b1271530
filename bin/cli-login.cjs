#!/usr/bin/env node
'use strict'
// CommonJS on purpose: see scripts/bundle-cli.mjs. `token` is first tried by a small bundle: it
// prints a fresh token (from the file, or from the keychain), or waits for the one another process
// is refreshing. Once it has printed, the process exits: a keychain connection must not delay it.
const answered = process.argv[2] === 'token' && require('../dist/token-fast.cjs').tryFreshToken(process.argv.slice(3), process.env)
if (answered === false) require('../dist/cli.cjs').run()
else if (answered !== true) answered.then((done) => (done ? process.exit(0) : require('../dist/cli.cjs').run()))
