/**
 * The bench's figures are declared once (bench/figures.ts); README.md's Performance table and
 * bench/README.md's figure list show exactly those, in that order (written by
 * `npm run bench -- --write-readme`, never by hand).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { FIGURES, GROUPS, type FigureSpec } from '../../bench/figures.ts'
import { betweenMarkers, figureCell, figureList, FIGURE_LIST_MARKERS, README_TABLE_MARKERS, replaceBetweenMarkers, resultsTable, targetCell, type MeasuredFigure } from '../../bench/table.ts'

const readme = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8')
const specs = FIGURES as readonly FigureSpec[]

/** The body rows of the Markdown table in `text`, as trimmed cells. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((line) => line.startsWith('|'))
  assert.ok(lines.length >= 2, 'a table with a header')
  assert.match(lines[1], /^\|[-|: ]+\|$/, 'the header separator')
  return lines.slice(2).map((line) => line.slice(1, -1).split('|').map((cell) => cell.trim()))
}

test('README.md: the Performance table between its markers has one row per declared figure, in order, with its label and target', async () => {
  const block = betweenMarkers(await readme('README.md'), README_TABLE_MARKERS)
  assert.ok(block !== undefined, `README.md has ${README_TABLE_MARKERS.start} … ${README_TABLE_MARKERS.end} around the table`)
  const rows = tableRows(block)
  assert.deepEqual(rows.map((cells) => cells[0]), specs.map((spec) => figureCell(spec)), 'figure ids and labels')
  assert.deepEqual(rows.map((cells) => cells[5]), specs.map((spec) => targetCell(spec.target)), 'targets')
})

test('what --write-readme writes: every declared figure in order, the unmeasured ones saying why', () => {
  const measured: MeasuredFigure[] = [{ id: '2', name: 'whatever', unit: 'calls/s', value: { median: 60_000, min: 50_000, max: 70_000, n: 3 }, samples: [50_000, 60_000, 70_000], pass: true }]
  const written = replaceBetweenMarkers(`before\n${README_TABLE_MARKERS.start}\nold\n${README_TABLE_MARKERS.end}\nafter\n`, README_TABLE_MARKERS, resultsTable(measured, new Map([['1e', 'valgrind is not installed']])))
  assert.match(written, /^before\n/)
  assert.match(written, /\nafter\n$/)
  const rows = tableRows(betweenMarkers(written, README_TABLE_MARKERS)!)
  assert.deepEqual(rows.map((cells) => cells[0]), specs.map((spec) => figureCell(spec)))
  assert.deepEqual(rows.map((cells) => cells[5]), specs.map((spec) => targetCell(spec.target)))
  const row = (id: string) => rows.find((cells) => cells[0].startsWith(`${id} `))!
  assert.deepEqual(row('2').slice(1, 3), ['60,000/s', '50,000/s–70,000/s'])
  assert.equal(row('2')[6], 'pass')
  assert.equal(row('1e')[1], 'not measured: valgrind is not installed')
  assert.equal(row('4')[1], 'not measured: not run')
})

test('bench/README.md: the figure list between its markers is the one written from the declarations', async () => {
  const block = betweenMarkers(await readme('bench/README.md'), FIGURE_LIST_MARKERS)
  assert.ok(block !== undefined, `bench/README.md has ${FIGURE_LIST_MARKERS.start} … ${FIGURE_LIST_MARKERS.end} around the list`)
  assert.equal(block, figureList())
})

test('the declarations: unique ids, groups in ascending order, a baseline named wherever a ratio is the target', () => {
  assert.equal(new Set(specs.map((spec) => spec.id)).size, specs.length)
  assert.deepEqual(GROUPS, [...GROUPS].sort((a, b) => a - b))
  for (const spec of specs) {
    assert.ok(spec.id.startsWith(String(spec.group)), `${spec.id} is in group ${spec.group}`)
    if (spec.target?.kind === 'ratio<=' || spec.target?.kind === 'ratio>=') assert.ok(spec.baseline, `${spec.id} has a ratio target and names its baseline`)
  }
})
