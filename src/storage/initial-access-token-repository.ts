import type { Queryable } from './database.js';

/** An initial access token as stored: never the token itself, only its SHA-256 hash. */
export interface StoredInitialAccessToken {
  id: string;
  description: string | null;
  policyName: string | null;
  /** null: no limit. */
  maxUses: number | null;
  uses: number;
  /** Seconds since the epoch; null: never. */
  expiresAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

export type NewInitialAccessToken = Omit<StoredInitialAccessToken, 'uses' | 'revokedAt'> & { tokenHash: Uint8Array };

interface TokenRow {
  id: string;
  description: string | null;
  policy_name: string | null;
  max_uses: number | null;
  uses: number;
  expires_at: string | number | null;
  revoked_at: string | number | null;
  created_at: string | number;
}

const COLUMNS = 'id, description, policy_name, max_uses, uses, expires_at, revoked_at, created_at';

// bigint columns come back as strings from pg and as numbers from PGlite
const numOrNull = (value: string | number | null): number | null => (value === null ? null : Number(value));

function fromRow(row: TokenRow): StoredInitialAccessToken {
  return {
    id: row.id,
    description: row.description,
    policyName: row.policy_name,
    maxUses: row.max_uses,
    uses: row.uses,
    expiresAt: numOrNull(row.expires_at),
    revokedAt: numOrNull(row.revoked_at),
    createdAt: Number(row.created_at),
  };
}

/**
 * The condition on an initial_access_tokens row that a use may be spent: the token of hash
 * `hash` (a placeholder), not revoked, not expired at `now` (a placeholder, seconds since the
 * epoch), uses left. In an UPDATE, concurrent spenders queue on the row lock and each re-checks
 * it on the row the one before committed, so at most max_uses succeed across every instance.
 * `consume` and the one-statement registration (registration-repository.ts) share it.
 */
export const spendable = (hash: string, now: string): string =>
  `token_hash = ${hash} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now}::bigint) AND (max_uses IS NULL OR uses < max_uses)`;

export class InitialAccessTokenRepository {
  constructor(private readonly db: Queryable) {}

  async insert(token: NewInitialAccessToken): Promise<StoredInitialAccessToken> {
    const [row] = await this.db.query<TokenRow>(
      `INSERT INTO initial_access_tokens (id, token_hash, description, policy_name, max_uses, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [token.id, token.tokenHash, token.description, token.policyName, token.maxUses, token.expiresAt, token.createdAt],
    );
    return fromRow(row!);
  }

  async findById(id: string): Promise<StoredInitialAccessToken | undefined> {
    const [row] = await this.db.query<TokenRow>(`SELECT ${COLUMNS} FROM initial_access_tokens WHERE id = $1`, [id]);
    return row && fromRow(row);
  }

  async findByHash(tokenHash: Uint8Array): Promise<StoredInitialAccessToken | undefined> {
    const [row] = await this.db.query<TokenRow>(`SELECT ${COLUMNS} FROM initial_access_tokens WHERE token_hash = $1`, [tokenHash]);
    return row && fromRow(row);
  }

  /** Newest first. */
  async list(limit: number): Promise<StoredInitialAccessToken[]> {
    const rows = await this.db.query<TokenRow>(`SELECT ${COLUMNS} FROM initial_access_tokens ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
    return rows.map(fromRow);
  }

  /**
   * Spends one use of the token, atomically: only while it is `spendable`. Run it in the
   * registration's transaction: a registration that fails afterwards gives the use back.
   */
  async consume(tokenHash: Uint8Array, now: number): Promise<StoredInitialAccessToken | undefined> {
    const [row] = await this.db.query<TokenRow>(
      `UPDATE initial_access_tokens SET uses = uses + 1 WHERE ${spendable('$1', '$2')} RETURNING ${COLUMNS}`,
      [tokenHash, now],
    );
    return row && fromRow(row);
  }

  /** Marks the token revoked (once; a second revoke keeps the first time). Undefined when unknown. */
  async revoke(id: string, now: number): Promise<StoredInitialAccessToken | undefined> {
    const [row] = await this.db.query<TokenRow>(
      `UPDATE initial_access_tokens SET revoked_at = COALESCE(revoked_at, $2::bigint) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, now],
    );
    return row && fromRow(row);
  }

  /** Ids of tokens still usable some day (not revoked) that register under `policyName`. */
  async activeWithPolicy(policyName: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>('SELECT id FROM initial_access_tokens WHERE policy_name = $1 AND revoked_at IS NULL ORDER BY id LIMIT 10', [policyName]);
    return rows.map((row) => row.id);
  }
}
