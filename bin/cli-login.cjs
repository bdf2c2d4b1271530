#!/usr/bin/env node
'use strict'
// CommonJS on purpose: see scripts/bundle-cli.mjs. A fresh token is printed by a small bundle.
if (process.argv[2] !== 'token') require('../dist/cli.cjs').run()
// Exit as soon as the token is printed (synchronously): a keychain connection must not delay it.
else require('../dist/token-fast.cjs').tryFreshToken(process.argv.slice(3), process.env).then((done) => (done ? process.exit(0) : require('../dist/cli.cjs').run()))
