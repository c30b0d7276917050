import { Readable } from 'node:stream';
import { getMetricsFromStream, type PromData, type PromHistogramData, type PromMetrics } from 'prom2javascript';
import { expect } from 'vitest';

/** GET /metrics, checked to be Prometheus text, parsed by a Prometheus text-format parser. */
export async function scrape(url: string): Promise<Scraped> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await response.text());
}

/**
 * Prometheus reads NaN; prom2javascript does not. prom-client writes it (as "Nan") for the
 * event-loop lag gauges when no sample fell between two scrapes; only those lines are set aside.
 */
export async function parseMetrics(text: string): Promise<Scraped> {
  const lines = text.split('\n');
  const notANumber = lines.filter((line) => /^[^#].*\sNaN$/i.test(line));
  expect(notANumber.filter((line) => !line.startsWith('nodejs_eventloop_lag_'))).toEqual([]);
  return new Scraped(await getMetricsFromStream(Readable.from([lines.filter((line) => !notANumber.includes(line)).join('\n')])));
}

type Labels = Record<string, string>;

const matches = (labels: Labels, wanted: Labels) => Object.entries(wanted).every(([name, value]) => labels[name] === value);

export class Scraped {
  constructor(readonly families: PromMetrics) {}

  family(name: string, type: string) {
    const family = this.families[name];
    expect(family, `${name} is exposed`).toBeDefined();
    expect(family!.type).toBe(type);
    return family!;
  }

  /** The samples of a counter or gauge whose labels include `wanted`. */
  samples(name: string, type: 'counter' | 'gauge', wanted: Labels = {}): PromData[] {
    return (this.family(name, type).data as PromData[]).filter((s) => matches(s.labels, wanted));
  }

  /** The sum of the matching samples of a counter or gauge (0 when none match). */
  value(name: string, type: 'counter' | 'gauge', wanted: Labels = {}): number {
    return this.samples(name, type, wanted).reduce((sum, s) => sum + s.value, 0);
  }

  /** The matching series of a histogram. */
  histograms(name: string, wanted: Labels = {}): PromHistogramData[] {
    return (this.family(name, 'histogram').data as PromHistogramData[]).filter((s) => matches(s.labels, wanted));
  }

  /** Every value a label takes in a family. */
  labelValues(name: string, label: string): string[] {
    return [...new Set((this.families[name]?.data ?? []).map((s) => s.labels[label]).filter((v): v is string => v !== undefined))].sort();
  }
}
