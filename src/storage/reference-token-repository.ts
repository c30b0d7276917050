import type { Queryable } from './database.js';

/** Reference access tokens, by the SHA-256 hash of the token: the token itself is never stored. */
export class ReferenceTokenRepository {
  constructor(private readonly db: Queryable) {}

  async insert(tokenHash: Uint8Array, clientId: string, claims: Record<string, unknown>, expiresAt: number): Promise<void> {
    await this.db.query('INSERT INTO reference_tokens (token_hash, client_id, claims, expires_at) VALUES ($1, $2, $3::jsonb, $4)', [
      tokenHash,
      clientId,
      JSON.stringify(claims),
      expiresAt,
    ]);
  }

  /** The claims of a token that has not expired, or undefined. */
  async find(tokenHash: Uint8Array, now: number): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.db.query<{ claims: Record<string, unknown> }>('SELECT claims FROM reference_tokens WHERE token_hash = $1 AND expires_at > $2', [tokenHash, now]);
    return row?.claims;
  }

  /** Revocation: removes the token if `clientId` holds it. */
  async delete(tokenHash: Uint8Array, clientId: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM reference_tokens WHERE token_hash = $1 AND client_id = $2 RETURNING client_id', [tokenHash, clientId])).length === 1;
  }

  async purgeExpired(now: number): Promise<number> {
    return (await this.db.query('DELETE FROM reference_tokens WHERE expires_at < $1 RETURNING client_id', [now])).length;
  }
}
