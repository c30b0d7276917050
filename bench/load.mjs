// One timed autocannon run and the checks on its answers, shared by the comparison, the scale and
// the soak suites. Ctrl-C stops the run in progress; the suite then cleans up as usual.

import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));

let running; // the autocannon run in progress
export const interruption = { requested: false };

process.once('SIGINT', () => {
  interruption.requested = true;
  running?.stop();
});

/** Stops the run in progress (an assertion pool ran dry). */
export function stopRunning() {
  running?.stop();
}

/**
 * Runs autocannon against `url` for `duration` seconds with `connections` connections.
 * autocannon takes the path from `url` only (a `path` option is silently ignored).
 */
export async function runLoad(url, { duration, connections, ...options }) {
  running = autocannon({ url, duration, connections, ...options });
  const times = new ResponseTimes();
  running.on('response', (_client, _status, _bytes, milliseconds) => times.add(milliseconds));
  try {
    const result = await running;
    return { ...result, latencyExact: times.percentiles() };
  } finally {
    running = undefined;
  }
}

/**
 * Every response's time, to the microsecond. autocannon's own histogram keeps whole
 * milliseconds: a static document answered in 0.6 ms shows as p50 0 or 1 ms, and a p99 / p50
 * ratio from those is noise. The times come from the same clock autocannon uses (hrtime).
 */
class ResponseTimes {
  #values = new Float64Array(1 << 16);
  #count = 0;

  add(milliseconds) {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = milliseconds;
  }

  /** p50, p90 and p99 in milliseconds (3 decimals); null when nothing was answered. */
  percentiles() {
    if (this.#count === 0) return { p50: null, p90: null, p99: null };
    const sorted = this.#values.subarray(0, this.#count).sort();
    const at = (q) => Number(sorted[Math.min(this.#count - 1, Math.floor(q * this.#count))].toFixed(3));
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99) };
  }
}

/** Problems with a run; empty when every response had the expected status. */
export function loadProblems(result, expectedStatuses) {
  const expected = new Set([expectedStatuses].flat());
  const found = [];
  if (result.requests.total === 0) found.push('no requests completed');
  if (result.errors > 0) found.push(`${result.errors} errors`);
  if (result.timeouts > 0) found.push(`${result.timeouts} timeouts`);
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    if (!expected.has(Number(status))) found.push(`${count} × HTTP ${status} (expected ${[...expected].join(' or ')})`);
  }
  return found;
}

export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round(value, digits = 1) {
  return value === null || value === undefined ? null : Number(value.toFixed(digits));
}

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function printTable(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const format = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

/** Writes bench/results.json: the suite's figures after what identifies the run. */
export function writeResults(suite, figures) {
  const identity = { suite, date: new Date().toISOString(), node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length };
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...identity, ...figures }, null, 2)}\n`);
  console.log(`results written to ${RESULTS_FILE}`);
}
