#!/usr/bin/env node
'use strict'
// CommonJS on purpose: see scripts/bundle-cli.mjs.
require('../dist/cli.cjs').run()
