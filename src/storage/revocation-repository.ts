import type { Queryable } from './database.js';

/** Revoked access tokens, by jti, until they would have expired (RFC 7009 §2). */
export class RevocationRepository {
  constructor(private readonly db: Queryable) {}

  async revoke(jti: string, clientId: string, expiresAt: number): Promise<void> {
    await this.db.query(
      'INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING',
      [jti, clientId, expiresAt],
    );
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 AS revoked FROM revoked_tokens WHERE jti = $1', [jti])).length > 0;
  }

  async purgeExpired(now: number): Promise<number> {
    return (await this.db.query('DELETE FROM revoked_tokens WHERE expires_at < $1 RETURNING jti', [now])).length;
  }
}
