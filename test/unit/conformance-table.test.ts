/**
 * The README's conformance table says what `npm run test:conformance` checks: one row per client
 * `auth/*` scenario of the installed suite, in its order, and the rows marked as waiting are exactly
 * the expected-failures file's entries, each waiting on the issue its comment there names.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { authScenarios, EXPECTED_FAILURES } from '../conformance/run.ts'

const README = await readFile(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')

interface Row { scenario: string; cliLogin: string; sdk: string }

function tableRows(): Row[] {
  const table = README.split('<!-- conformance:table -->')[1]?.split('<!-- /conformance:table -->')[0]
  assert.ok(table, 'the README marks its conformance table')
  return [...table.matchAll(/^\| `(auth\/[^`]+)` \|[^|]*\| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({ scenario: m[1], cliLogin: m[2].trim(), sdk: m[3].trim() }))
}

/** `client:` entries of conformance/expected-failures.yaml, each with the comment lines above it. */
async function expectedFailures(): Promise<Array<{ scenario: string; comment: string }>> {
  const lines = (await readFile(EXPECTED_FAILURES, 'utf8')).split('\n')
  const entries: Array<{ scenario: string; comment: string }> = []
  let comment = ''
  let inClient = false
  for (const line of lines) {
    if (/^\S/.test(line) && !line.startsWith('#')) inClient = /^client:\s*$/.test(line)
    const entry = /^\s+- (\S+)\s*$/.exec(line)
    const remark = /^\s+# (.*)$/.exec(line)
    if (inClient && remark) comment = remark[1]
    if (inClient && entry) entries.push({ scenario: entry[1], comment })
  }
  return entries
}

test('the README table has a row for every client auth scenario of the installed suite, in its order', async () => {
  const scenarios = (await authScenarios()).map((s) => s.name)
  assert.equal(scenarios.length, 33, 'the pinned suite (0.2.0-alpha.12) has 33')
  assert.deepEqual(tableRows().map((row) => row.scenario), scenarios)
  for (const row of tableRows()) {
    assert.match(row.cliLogin, /^(passes|waits: issue \d+(, item \d+)? \(.+\))$/, row.scenario)
    assert.match(row.sdk, /^(passes|fails \(expected failure\))$/, row.scenario)
  }
})

test('the rows waiting on a feature are exactly the expected-failures entries, each naming the issue its comment names', async () => {
  const entries = await expectedFailures()
  const waiting = tableRows().filter((row) => row.cliLogin.startsWith('waits'))
  assert.deepEqual(waiting.map((row) => row.scenario).sort(), entries.map((e) => e.scenario).sort())
  for (const entry of entries) {
    const issue = /issue (\d+)(?:, item (\d+))?/.exec(entry.comment)
    assert.ok(issue, `${entry.scenario}: its comment names the issue it waits on`)
    const row = waiting.find((r) => r.scenario === entry.scenario) as Row
    assert.ok(row.cliLogin.includes(issue[0]), `${entry.scenario}: the README and the file name the same issue (${issue[0]})`)
  }
  const passing = tableRows().length - waiting.length
  assert.match(README, new RegExp(`cli-login passes ${passing} of the ${tableRows().length} today; the ${waiting.length} it waits on`))
})
