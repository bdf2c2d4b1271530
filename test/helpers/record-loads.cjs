'use strict'
// Preloaded with `node --require`: records every module request and every file loaded by CommonJS,
// and writes them as JSON to $RECORD_LOADS_FILE when the process exits (or, for many processes at
// once, to $RECORD_LOADS_DIR/<pid>.json).
const Module = require('node:module')
const { writeFileSync } = require('node:fs')

const requests = []
const load = Module._load
Module._load = function recordLoad(request, ...rest) {
  requests.push(request)
  return load.call(this, request, ...rest)
}
process.on('exit', () => {
  const file = process.env.RECORD_LOADS_FILE ?? `${process.env.RECORD_LOADS_DIR}/${process.pid}.json`
  writeFileSync(file, JSON.stringify({ requests, files: Object.keys(require.cache) }))
})
