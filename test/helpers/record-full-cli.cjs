// Preloaded with --require: appends this process's pid to $RECORD_FULL_CLI when it loads the full
// CLI bundle (dist/cli.cjs), so a test can tell which processes the fast path answered.
'use strict'
const Module = require('node:module')
const { appendFileSync } = require('node:fs')
const load = Module._load
Module._load = function (request, ...rest) {
  if (/(^|[\\/])cli\.cjs$/.test(request)) appendFileSync(process.env.RECORD_FULL_CLI, `${process.pid}\n`)
  return load.call(this, request, ...rest)
}
