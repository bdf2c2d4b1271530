'use strict'
// Preloaded with `node --require`: records what of Node's fetch the process used and writes it as
// JSON to $RECORD_FETCH_FILE when it exits: `globals`, which of the WHATWG fetch globals (fetch,
// Headers, Request, Response, FormData, …) it called or read — the first use is what loads Node's
// bundled undici —, and `undiciFiles`, the files of the undici package it loaded. With
// $RECORD_FETCH_MAIN (a regular expression), only a process whose main script matches records.
// It relies on nothing but those public globals and require.cache.
const { writeFileSync } = require('node:fs')

const file = process.env.RECORD_FETCH_FILE
const main = process.env.RECORD_FETCH_MAIN
if (file && (!main || new RegExp(main).test(process.argv[1] ?? ''))) {
  const used = new Set()
  const FETCH_GLOBALS = ['fetch', 'Headers', 'Request', 'Response', 'FormData', 'WebSocket', 'EventSource', 'MessageEvent', 'CloseEvent']
  for (const name of FETCH_GLOBALS) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name)
    if (!descriptor) continue
    if (descriptor.get) {
      // A lazy global: reading it loads its implementation.
      Object.defineProperty(globalThis, name, {
        configurable: true,
        enumerable: descriptor.enumerable,
        get() {
          used.add(name)
          return descriptor.get.call(this)
        },
        set(value) {
          Object.defineProperty(globalThis, name, { configurable: true, enumerable: descriptor.enumerable, writable: true, value })
        },
      })
    } else if (typeof descriptor.value === 'function') {
      // A function that loads its implementation when called (Node 20's fetch).
      const original = descriptor.value
      const traced = new Proxy(original, {
        apply(target, thisArg, args) {
          used.add(name)
          return Reflect.apply(target, thisArg, args)
        },
        construct(target, args, newTarget) {
          used.add(name)
          return Reflect.construct(target, args, newTarget === traced ? target : newTarget)
        },
      })
      Object.defineProperty(globalThis, name, { ...descriptor, value: traced })
    }
  }
  process.on('exit', () => {
    const undiciFiles = Object.keys(require.cache).filter((path) => /[\\/]node_modules[\\/]undici[\\/]/.test(path))
    writeFileSync(file, JSON.stringify({ main: process.argv[1] ?? null, globals: [...used], undiciFiles }))
  })
}
