/**
 * The one output formatter of the CLI: a readable table or record by default, JSON with --json.
 * Everything a command prints on success goes through here, to standard output.
 */

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
}

/** Epoch seconds as UTC, to the second; null or undefined as "-". */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return '-';
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** Columns padded to their widest cell, two spaces apart, one header line. */
export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => c.value(row)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** Fields whose name says they are points in time (epoch seconds) are shown as dates. */
const TIME_FIELDS = /(_at|_after|_before)$/;

function formatValue(name: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number' && TIME_FIELDS.test(name)) return name === 'client_secret_expires_at' && value === 0 ? 'never' : formatTime(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One "name  value" line per field, in the given order first, then the rest by name. */
export function formatRecord(record: Readonly<Record<string, unknown>>, first: readonly string[] = []): string {
  const names = [...first.filter((n) => n in record), ...Object.keys(record).filter((n) => !first.includes(n)).sort()];
  const width = Math.max(0, ...names.map((n) => n.length));
  return names.map((n) => `${n.padEnd(width)}  ${formatValue(n, record[n])}`.trimEnd()).join('\n');
}

export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Writes JSON when asked for it, the text otherwise; a trailing newline either way. */
export function emit(json: boolean | undefined, value: unknown, text: () => string): void {
  const out = json === true ? formatJson(value) : text();
  process.stdout.write(out === '' ? '' : `${out}\n`);
}
