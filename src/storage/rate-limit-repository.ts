import type { Queryable } from './database.js';

/** A counter's window as a request sees it: how many requests so far, and when the window ends (ms). */
export interface WindowCount {
  count: number;
  resetAt: number;
}

/** One counter to add a request to: its key and the length of the window a new row gets. */
export interface CounterHit {
  key: string;
  windowMs: number;
}

/**
 * The upsert of a counter: a row whose window has ended starts a new window at the requests
 * added; otherwise the count goes up by them and the window keeps its end. `$now` is the
 * statement's current time (ms); the source row's count is how many requests are added.
 */
const upsert = (keyParam: string, windowParam: string, nowParam: string, source: string, returning = 'count, reset_at') => `
  INSERT INTO rate_limit_counters AS c (key, count, reset_at)
  ${source.replace('$KEY', keyParam).replace('$RESET', `${nowParam}::bigint + ${windowParam}::bigint`)}
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.reset_at <= ${nowParam}::bigint THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
    reset_at = CASE WHEN c.reset_at <= ${nowParam}::bigint THEN EXCLUDED.reset_at ELSE c.reset_at END
  RETURNING ${returning}`;

type CountRow = { count: number | string; reset_at: number | string };
const toCount = (row: CountRow): WindowCount => ({ count: Number(row.count), resetAt: Number(row.reset_at) });

/** Fixed-window request counters in the database, shared by every instance (migration 0007). */
export class RateLimitRepository {
  constructor(private readonly db: Queryable) {}

  /** Adds one request to a counter; one statement. */
  async hit(counter: CounterHit, now: number): Promise<WindowCount> {
    const rows = await this.db.query<CountRow>(upsert('$1', '$2', '$3', 'VALUES ($KEY, 1, $RESET)'), [counter.key, counter.windowMs, now]);
    return toCount(rows[0]!);
  }

  /**
   * Adds one request to a per-address counter and, only while that address is within its own
   * `addressMax`, to a shared counter too: one address hammering past its own limit must not use
   * up the ceiling every other address shares. One statement (two data-modifying CTEs), one
   * round trip. `shared` is undefined when the address was over its limit.
   */
  async hitBoth(
    address: CounterHit & { max: number },
    shared: CounterHit,
    now: number,
  ): Promise<{ address: WindowCount; shared: WindowCount | undefined }> {
    const rows = await this.db.query<{ address_count: number | string; address_reset_at: number | string; shared_count: number | string | null; shared_reset_at: number | string | null }>(
      `WITH address AS (${upsert('$1', '$2', '$6', 'VALUES ($KEY, 1, $RESET)')}
       ), shared AS (${upsert('$3', '$4', '$6', 'SELECT $KEY, 1, $RESET FROM address WHERE address.count <= $5::integer')}
       )
       SELECT a.count AS address_count, a.reset_at AS address_reset_at, s.count AS shared_count, s.reset_at AS shared_reset_at
         FROM address a LEFT JOIN shared s ON true`,
      [address.key, address.windowMs, shared.key, shared.windowMs, address.max, now],
    );
    const row = rows[0]!;
    return {
      address: toCount({ count: row.address_count, reset_at: row.address_reset_at }),
      shared: row.shared_count === null || row.shared_reset_at === null ? undefined : toCount({ count: row.shared_count, reset_at: row.shared_reset_at }),
    };
  }

  /**
   * Adds many requests at once, in one statement: `addresses` holds each key with how many
   * requests it adds (each key once); the shared counter, when given, gets only the requests
   * each address admits within `addressMax` (as hitBoth does one at a time). Answers the counts
   * after the statement: what each request saw follows from its place among its key's requests.
   * With `addressMax` undefined there is no per-address counter and every request is shared.
   */
  async hitBatch(
    addresses: { key: string; n: number }[],
    address: { windowMs: number; max: number } | undefined,
    shared: CounterHit | undefined,
    now: number,
  ): Promise<{ addresses: Map<string, WindowCount>; shared: WindowCount | undefined }> {
    type Row = { kind: 'a' | 's'; key: string; count: number | string; reset_at: number | string };
    let rows: Row[];
    if (address === undefined) {
      if (shared === undefined) return { addresses: new Map(), shared: undefined };
      const total = addresses.reduce((sum, hit) => sum + hit.n, 0);
      rows = await this.db.query<Row>(
        `WITH shared AS (${upsert('$1', '$2', '$3', 'VALUES ($KEY, $4::integer, $RESET)')})
         SELECT 's' AS kind, $1 AS key, count, reset_at FROM shared`,
        [shared.key, shared.windowMs, now, total],
      );
    } else {
      const params: unknown[] = [addresses.map((hit) => hit.key), addresses.map((hit) => hit.n), address.windowMs, now];
      const sharedPart =
        shared === undefined
          ? ''
          : `, admitted AS (
               SELECT sum(GREATEST(0, LEAST(i.n, $5::integer - (a.count - i.n))))::integer AS n FROM address a JOIN input i USING (key)
             ), shared AS (${upsert('$6', '$7', '$4', 'SELECT $KEY, admitted.n, $RESET FROM admitted WHERE admitted.n > 0')})`;
      if (shared !== undefined) params.push(address.max, shared.key, shared.windowMs);
      rows = await this.db.query<Row>(
        `WITH input AS (SELECT * FROM unnest($1::text[], $2::integer[]) AS t(key, n)),
         address AS (${upsert('key', '$3', '$4', 'SELECT $KEY, n, $RESET FROM input', 'key, count, reset_at')})${sharedPart}
         SELECT 'a' AS kind, key, count, reset_at FROM address
         ${shared === undefined ? '' : "UNION ALL SELECT 's' AS kind, $6 AS key, count, reset_at FROM shared"}`,
        params,
      );
    }
    const sharedRow = rows.find((row) => row.kind === 's');
    return {
      addresses: new Map(rows.filter((row) => row.kind === 'a').map((row) => [row.key, toCount(row)])),
      shared: sharedRow && toCount(sharedRow),
    };
  }

  /** The counters among `keys` whose window is still running, without counting anything. */
  async current(keys: readonly string[], now: number): Promise<Map<string, WindowCount>> {
    const rows = await this.db.query<CountRow & { key: string }>('SELECT key, count, reset_at FROM rate_limit_counters WHERE key = ANY($1::text[]) AND reset_at > $2', [[...keys], now]);
    return new Map(rows.map((row) => [row.key, toCount(row)]));
  }

  /** Deletes counters whose window has ended, through the index; called from a timer, never per request. */
  async purgeExpired(now: number): Promise<number> {
    const rows = await this.db.query('DELETE FROM rate_limit_counters WHERE reset_at <= $1 RETURNING key', [now]);
    return rows.length;
  }
}
