import type { Queryable } from './database.js';

/** Single-use assertion ids, enforced by the database so it holds across restarts and instances. */
export class ReplayRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * Records the first use of `jti` by `clientId` and returns true; returns false when it was used
   * before and has not expired. One statement, so of concurrent uses exactly one wins. A row left
   * from an expired assertion is taken over rather than blocking the id forever.
   */
  async firstUse(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE client_assertion_jtis.expires_at < $4
       RETURNING jti`,
      [clientId, jti, expiresAt, now],
    );
    return rows.length === 1;
  }

  /** Deletes expired rows through the expiry index; called from a timer, never per request. */
  async purgeExpired(now: number): Promise<number> {
    const rows = await this.db.query('DELETE FROM client_assertion_jtis WHERE expires_at < $1 RETURNING jti', [now]);
    return rows.length;
  }
}
