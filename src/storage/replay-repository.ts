import { Batcher } from './batcher.js';
import type { Queryable } from './database.js';

interface Use {
  clientId: string;
  jti: string;
  expiresAt: number;
  now: number;
}

/** What recording a use found: whether it was the first, and the client's stored version then. */
export interface UseOutcome {
  first: boolean;
  /** The client row's version as of the same statement; undefined when the client is gone. */
  clientVersion: number | undefined;
}

/** Single-use assertion ids, enforced by the database so it holds across restarts and instances. */
export class ReplayRepository {
  readonly #uses: Batcher<Use, UseOutcome>;

  constructor(private readonly db: Queryable) {
    this.#uses = new Batcher((uses) => this.#recordUses(uses));
  }

  /**
   * Records the first use of `jti` by `clientId` and returns true; returns false when it was used
   * before and has not expired. Committed before it answers, so a restart or another instance
   * sees it. Of concurrent uses exactly one wins: the row's unique key decides, in this instance's
   * batch or against another's. A row left from an expired assertion is taken over rather than
   * blocking the id forever.
   *
   * The same statement reads the client's version: a caller that authenticated the client from
   * a cached copy learns, at no extra round trip, whether the copy is still the stored client.
   */
  firstUse(clientId: string, jti: string, expiresAt: number, now: number): Promise<UseOutcome> {
    return this.#uses.submit({ clientId, jti, expiresAt, now });
  }

  /** One statement for a batch of uses (batcher.ts): each answered from its own row. */
  async #recordUses(uses: readonly Use[]): Promise<UseOutcome[]> {
    // one row per (client, jti): ON CONFLICT cannot touch a row twice in one statement, and a
    // second use in the same batch is a replay of the first whatever the first's outcome
    const firstIndex = new Map<string, number>();
    const rows: Use[] = [];
    uses.forEach((use, i) => {
      const key = `${use.clientId}\u0000${use.jti}`;
      if (firstIndex.has(key)) return;
      firstIndex.set(key, i);
      rows.push(use);
    });
    // the earliest clock of the batch: a row is taken over only once expired for every use in it
    const now = Math.min(...rows.map((use) => use.now));
    // rows with a jti are the uses recorded; rows without, the versions of the batch's clients
    const found = await this.db.query<{ client_id: string; jti: string | null; version: number | null }>(
      `WITH used AS (
         INSERT INTO client_assertion_jtis (client_id, jti, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
           WHERE client_assertion_jtis.expires_at < $4
         RETURNING client_id, jti)
       SELECT client_id, jti, NULL::integer AS version FROM used
       UNION ALL
       SELECT client_id, NULL, version FROM clients WHERE client_id = ANY($1::text[])`,
      [rows.map((use) => use.clientId), rows.map((use) => use.jti), rows.map((use) => use.expiresAt), now],
    );
    const won = new Set<string>();
    const versions = new Map<string, number>();
    for (const row of found) {
      if (row.jti !== null) won.add(`${row.client_id}\u0000${row.jti}`);
      else if (row.version !== null) versions.set(row.client_id, row.version);
    }
    return uses.map((use, i) => {
      const key = `${use.clientId}\u0000${use.jti}`;
      return { first: firstIndex.get(key) === i && won.has(key), clientVersion: versions.get(use.clientId) };
    });
  }

  /** Deletes expired rows through the expiry index; called from a timer, never per request. */
  async purgeExpired(now: number): Promise<number> {
    const rows = await this.db.query('DELETE FROM client_assertion_jtis WHERE expires_at < $1 RETURNING jti', [now]);
    return rows.length;
  }
}
