/**
 * The bench's tables, from the declarations in bench/figures.ts: the results table (printed, and
 * written into README.md's Performance section) and bench/README.md's figure list. Each README part
 * stands between two HTML comment markers and is replaced whole.
 */
import { FIGURES, type FigureSpec, type Unit } from './figures.ts'

export interface Stats { median: number; min: number; max: number; n: number }

/** One measured figure, as bench/results.json holds it. */
export interface MeasuredFigure {
  id: string
  name: string
  unit: Unit
  value: Stats
  samples: number[]
  baseline?: { name: string; value: Stats; samples: number[] }
  /** value.median / baseline.median */
  ratio?: number
  target?: FigureSpec['target']
  pass?: boolean
  notes?: string[]
  extra?: Record<string, unknown>
}

export const README_TABLE_MARKERS = { start: '<!-- bench:table -->', end: '<!-- /bench:table -->' }
export const FIGURE_LIST_MARKERS = { start: '<!-- bench:figures -->', end: '<!-- /bench:figures -->' }

export function fmt(value: number, unit: Unit): string {
  switch (unit) {
    case 'ms':
      return `${value.toFixed(1)} ms`
    case 'MiB':
      return `${value.toFixed(1)} MiB`
    case 'calls/s':
      return `${Math.round(value).toLocaleString('en-US')}/s`
    case 'kB':
      return `${value.toFixed(1)} kB`
    default:
      return String(value)
  }
}

function fmtRange(s: Stats, unit: Unit): string {
  if (s.min === s.max) return fmt(s.min, unit)
  return `${fmt(s.min, unit).replace(/ .*$/, '')}–${fmt(s.max, unit)}`
}

/** The figure's cell of the results table: `<id> <label>`. */
export function figureCell(spec: Pick<FigureSpec, 'id' | 'label'>): string {
  return `${spec.id} ${spec.label}`
}

/** The target cell of the results table: `≤ 1.15`, `≥ 50,000`, or empty. */
export function targetCell(target: FigureSpec['target']): string {
  if (!target) return ''
  return target.kind === 'value>=' || target.kind === 'ratio>=' ? `≥ ${target.limit.toLocaleString('en-US')}` : `≤ ${target.limit}`
}

const UNIT_WORDS: Record<Unit, string> = { ms: 'ms', MiB: 'MiB', 'calls/s': '/s', count: '', kB: 'kB' }

/** The target as bench/README.md says it: `≤ 1.15 × node -e 0`, `≥ 50,000 /s`, `≤ 20`, or —. */
export function targetText(spec: FigureSpec): string {
  const { target } = spec
  if (!target) return '—'
  if (target.kind === 'ratio<=') return `≤ ${target.limit} × ${spec.baseline ?? 'baseline'}`
  if (target.kind === 'ratio>=') return `≥ ${target.limit} × ${spec.baseline ?? 'baseline'}`
  return `${targetCell(target)}${UNIT_WORDS[spec.unit] ? ` ${UNIT_WORDS[spec.unit]}` : ''}`
}

/** Columns padded to their widest cell, unless `pad` is false (long prose cells). */
function markdownTable(header: string[], rows: string[][], pad = true): string {
  const widths = pad ? header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length))) : header.map(() => 1)
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

/**
 * The results table, in declared order: the measured figures, and (`skipped` given) every declared
 * figure not measured, saying why.
 */
export function resultsTable(measured: readonly MeasuredFigure[], skipped?: ReadonlyMap<string, string>): string {
  const header = ['figure', 'median', 'min–max', 'baseline (median)', 'ratio', 'target', 'pass/fail']
  const rows: string[][] = []
  for (const spec of FIGURES as readonly FigureSpec[]) {
    const f = measured.find((candidate) => candidate.id === spec.id)
    if (!f) {
      if (skipped) rows.push([figureCell(spec), `not measured: ${skipped.get(spec.id) ?? 'not run'}`, '', '', '', targetCell(spec.target), ''])
      continue
    }
    rows.push([
      figureCell(spec),
      fmt(f.value.median, f.unit),
      f.value.n > 1 ? fmtRange(f.value, f.unit) : '',
      f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.value.median, f.unit)}` : '',
      f.ratio !== undefined ? f.ratio.toFixed(3) : '',
      targetCell(spec.target),
      f.pass === undefined ? '' : f.pass ? 'pass' : 'FAIL',
    ])
  }
  return markdownTable(header, rows)
}

/** bench/README.md's list of figures: what each shows and how, and its target. */
export function figureList(): string {
  const rows = (FIGURES as readonly FigureSpec[]).map((spec) => [spec.id, spec.label.trim(), spec.shows, targetText(spec)])
  return markdownTable(['#', 'figure', 'what it shows, how it is measured', 'target'], rows, false)
}

/** `text` with what stands between the markers replaced by `content`; throws when the markers are missing. */
export function replaceBetweenMarkers(text: string, markers: { start: string; end: string }, content: string): string {
  const start = text.indexOf(markers.start)
  const end = text.indexOf(markers.end)
  if (start < 0 || end < start) throw new Error(`the markers ${markers.start} … ${markers.end} are missing`)
  // Blank lines around the content: a table right before the end marker would not end in Markdown.
  return `${text.slice(0, start + markers.start.length)}\n\n${content}\n\n${text.slice(end)}`
}

/** What stands between the markers, or undefined without them. */
export function betweenMarkers(text: string, markers: { start: string; end: string }): string | undefined {
  const start = text.indexOf(markers.start)
  const end = text.indexOf(markers.end)
  if (start < 0 || end < start) return undefined
  return text.slice(start + markers.start.length, end).trim()
}
