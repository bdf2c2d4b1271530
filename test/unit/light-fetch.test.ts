import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LightHeaders, LightResponse } from '../../src/net/light-fetch.ts'

test('LightHeaders: case-insensitive, appended values joined, iterated sorted, from records, pairs and other headers', () => {
  const headers = new LightHeaders({ 'Content-Type': 'application/json', Accept: 'a' })
  headers.append('accept', 'b')
  assert.equal(headers.get('content-type'), 'application/json')
  assert.equal(headers.get('ACCEPT'), 'a, b')
  assert.equal(headers.get('missing'), null)
  assert.equal(headers.has('Accept'), true)
  headers.delete('accept')
  assert.equal(headers.has('accept'), false)
  headers.set('b-header', '2')
  headers.set('a-header', '1')
  assert.deepEqual([...headers], [['a-header', '1'], ['b-header', '2'], ['content-type', 'application/json']])
  assert.deepEqual([...new LightHeaders([['X', '1']])], [['x', '1']])
  assert.deepEqual([...new LightHeaders(headers)], [...headers])
  assert.deepEqual([...new LightHeaders(new Headers({ y: '2' }) as unknown as Iterable<[string, string]>)], [['y', '2']], "Node's own Headers as init")
  const seen: string[] = []
  headers.forEach((value, name) => seen.push(`${name}=${value}`))
  assert.deepEqual(seen, ['a-header=1', 'b-header=2', 'content-type=application/json'])
  assert.equal(Object.prototype.toString.call(headers), '[object Headers]')
})

test('LightResponse: status, headers, one read of the body, clone before reading, JSON', async () => {
  const response = new LightResponse('{"a":1}', { status: 201, statusText: 'Created', headers: { 'content-type': 'application/json' } })
  assert.equal(response.status, 201)
  assert.equal(response.ok, true)
  assert.equal(response.headers.get('Content-Type'), 'application/json')
  assert.equal(response.body, null)
  const copy = response.clone()
  assert.deepEqual(await response.json(), { a: 1 })
  assert.equal(response.bodyUsed, true)
  await assert.rejects(response.text(), TypeError)
  assert.throws(() => response.clone(), TypeError)
  assert.equal(await copy.text(), '{"a":1}')
  assert.equal(new LightResponse(null, { status: 204 }).ok, true)
  assert.equal(await new LightResponse(null, { status: 204 }).text(), '')
  assert.equal(new LightResponse('', { status: 500 }).ok, false)
  assert.deepEqual(new Uint8Array(await new LightResponse(Buffer.from([1, 2, 3])).arrayBuffer()), new Uint8Array([1, 2, 3]))
  assert.equal(await new LightResponse(new URLSearchParams({ a: 'b c' })).text(), 'a=b+c')
  assert.equal(Object.prototype.toString.call(response), '[object Response]', 'passes oauth4webapi\'s Symbol.toStringTag check')
})
