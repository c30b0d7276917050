import type { Database, Queryable } from './database.js';

export interface StoredServerKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateCiphertext: string;
  createdAt: number;
  activatesAt: number;
}

interface ServerKeyRow {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  private_ciphertext: string;
  created_at: string | number;
  activates_at: string | number;
}

const fromRow = (row: ServerKeyRow): StoredServerKey => ({
  kid: row.kid,
  alg: row.alg,
  publicJwk: row.public_jwk,
  privateCiphertext: row.private_ciphertext,
  createdAt: Number(row.created_at),
  activatesAt: Number(row.activates_at),
});

const INSERT = 'INSERT INTO server_keys (kid, alg, public_jwk, private_ciphertext, created_at, activates_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6)';
const insertParams = (key: StoredServerKey) => [key.kid, key.alg, JSON.stringify(key.publicJwk), key.privateCiphertext, key.createdAt, key.activatesAt];

/** Inserts a key through `db`, which may be a transaction (a rotation and its audit entry). */
export async function insertServerKey(db: Queryable, key: StoredServerKey): Promise<void> {
  await db.query(INSERT, insertParams(key));
}

/** An arbitrary constant: instances creating a key take this lock so only one does. */
const KEY_CREATION_LOCK = 9068_7523;

export class ServerKeyRepository {
  constructor(private readonly db: Database) {}

  /** Every key, newest activation first. The set is small: keys are pruned once unpublished. */
  async all(): Promise<StoredServerKey[]> {
    const rows = await this.db.query<ServerKeyRow>(
      'SELECT kid, alg, public_jwk, private_ciphertext, created_at, activates_at FROM server_keys ORDER BY activates_at DESC, created_at DESC',
    );
    return rows.map(fromRow);
  }

  async insert(key: StoredServerKey): Promise<void> {
    await insertServerKey(this.db, key);
  }

  /**
   * Inserts the key made by `make` unless some key of its algorithm was created after `since`,
   * under a transaction-scoped lock, so that instances starting (or rotating) together add one
   * key. `since` at Number.MIN_SAFE_INTEGER: the algorithm's first key. Returns whether it inserted.
   */
  async insertUnlessCreatedAfter(alg: string, since: number, make: () => Promise<StoredServerKey>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEY_CREATION_LOCK]);
      const recent = await tx.query('SELECT 1 AS present FROM server_keys WHERE alg = $1 AND created_at > $2 LIMIT 1', [alg, since]);
      if (recent.length > 0) return false;
      await tx.query(INSERT, insertParams(await make()));
      return true;
    });
  }

  async deleteMany(kids: readonly string[]): Promise<void> {
    if (kids.length > 0) await this.db.query('DELETE FROM server_keys WHERE kid = ANY($1::text[])', [kids]);
  }
}
