// Markdown output of the suite: one table per BenchTable, with the "vs meshlet" ratio column,
// padded the way prettier formats tables (so the file can be pasted into docs as-is).
import type { BenchRow, BenchTable } from '../types.ts';

/** A figure for a table cell: 3 significant digits, thousands separated; "—" when absent. */
export function fmt(value: number | undefined, digits = 3): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** The ratio column's text: "1.00×", "0.52×". */
export function ratio(value: number, to: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(to) || to === 0) return '—';
  return `${(value / to).toFixed(2)}×`;
}

/** A markdown table from a header and rows of cells (prettier's padding). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

interface Column {
  readonly title: string;
  readonly cell: (row: BenchRow) => string;
  readonly present: (row: BenchRow) => boolean;
}

const COLUMNS: readonly Column[] = [
  { title: 'requests/s', cell: (r) => fmt(r.rps), present: (r) => r.rps !== undefined },
  { title: 'p50', cell: (r) => ms(r.p50Ms), present: (r) => r.p50Ms !== undefined },
  { title: 'p99', cell: (r) => ms(r.p99Ms), present: (r) => r.p99Ms !== undefined },
  { title: 'p99.9', cell: (r) => ms(r.p999Ms), present: (r) => r.p999Ms !== undefined },
  {
    title: 'RSS',
    cell: (r) => (r.rssMiB === undefined ? '—' : `${fmt(r.rssMiB)} MiB`),
    present: (r) => r.rssMiB !== undefined,
  },
  {
    title: 'errors',
    cell: (r) => (r.errors === undefined ? '—' : String(r.errors)),
    present: (r) => r.errors !== undefined,
  },
];

function ms(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${fmt(value)} ms`;
}

/** The ratio column's title. */
export const RATIO_TITLE = 'meshlet / this';

/**
 * The ratio column of a row: the reference (meshlet) row's requests/s over this row's when both
 * have them (> 1: meshlet is faster), else its RSS over this row's (< 1: meshlet is smaller).
 */
function ratioCell(row: BenchRow, reference: BenchRow | undefined): string {
  if (reference === undefined) return '—';
  if (row.rps !== undefined && reference.rps !== undefined) return ratio(reference.rps, row.rps);
  if (row.rssMiB !== undefined && reference.rssMiB !== undefined) return ratio(reference.rssMiB, row.rssMiB);
  return '—';
}

function ratioNote(reference: BenchRow): string {
  return reference.rps !== undefined
    ? `${RATIO_TITLE}: requests/s of "${reference.target}" divided by the row's (> 1: meshlet is faster).`
    : `${RATIO_TITLE}: RSS of "${reference.target}" divided by the row's (< 1: meshlet uses less).`;
}

/** One table as markdown: title, command, the table, its notes. */
export function renderTable(table: BenchTable): string {
  const columns = COLUMNS.filter((c) => table.rows.some(c.present));
  const extras: string[] = [];
  for (const row of table.rows)
    for (const key of Object.keys(row.extra ?? {})) if (!extras.includes(key)) extras.push(key);
  const reference =
    table.ratioTo === undefined ? undefined : table.rows.find((r) => r.target === table.ratioTo);
  const header = ['target', ...columns.map((c) => c.title), ...extras];
  if (table.ratioTo !== undefined) header.push(RATIO_TITLE);
  const rows = table.rows.map((row) => {
    const cells = [
      row.target,
      ...columns.map((c) => c.cell(row)),
      ...extras.map((k) => row.extra?.[k] ?? '—'),
    ];
    if (table.ratioTo !== undefined) cells.push(ratioCell(row, reference));
    return cells;
  });
  const parts = [`### ${table.title}`, '', `Command: \`${table.command}\``, '', markdownTable(header, rows)];
  if (table.ratioTo !== undefined && reference === undefined) {
    parts.push('', `(no row "${table.ratioTo}" in this run: no ratio column)`);
  }
  const notes = reference === undefined ? table.notes : [ratioNote(reference), ...table.notes];
  if (notes.length > 0) parts.push('', ...notes.map((n) => `- ${n}`));
  return parts.join('\n');
}
