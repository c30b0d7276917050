import type { Queryable } from './database.js';

/**
 * Where ciphertexts sealed with SECRETS_KEY live: the private halves of the server's signing
 * keys, client secrets, and the previous secrets of clients in a rotation's grace period. The key
 * id is the second dot-separated part of each ciphertext.
 */
export const SEALED_COLUMNS = {
  server_keys: { table: 'server_keys', id: 'kid', column: 'private_ciphertext' },
  clients: { table: 'clients', id: 'client_id', column: 'secret_ciphertext' },
  previous_client_secrets: { table: 'clients', id: 'client_id', column: 'previous_secret_ciphertext' },
} as const;

/** A kind of sealed value: one column of one table. */
export type SealedTable = keyof typeof SEALED_COLUMNS;

export interface SealedRow {
  id: string;
  sealed: string;
}

export class SealedValuesRepository {
  constructor(private readonly db: Queryable) {}

  /** How many ciphertexts each key id seals in `table`. A full scan: for operator commands only. */
  async countByKeyId(table: SealedTable): Promise<Map<string, number>> {
    const { table: name, column } = SEALED_COLUMNS[table];
    const rows = await this.db.query<{ key_id: string; n: string | number }>(
      `SELECT split_part(${column}, '.', 2) AS key_id, count(*) AS n FROM ${name} WHERE ${column} IS NOT NULL GROUP BY 1`,
    );
    return new Map(rows.map((row) => [row.key_id, Number(row.n)]));
  }

  /** The next `limit` rows after `afterId` (in id order) not sealed under `keyId`. */
  async notSealedUnder(table: SealedTable, keyId: string, afterId: string, limit: number): Promise<SealedRow[]> {
    const { table: name, id, column } = SEALED_COLUMNS[table];
    return this.db.query<SealedRow>(
      `SELECT ${id} AS id, ${column} AS sealed FROM ${name}
        WHERE ${column} IS NOT NULL AND split_part(${column}, '.', 2) <> $1 AND ${id} > $2
        ORDER BY ${id} LIMIT $3`,
      [keyId, afterId, limit],
    );
  }

  /**
   * Replaces each row's ciphertext, in one statement, only where it is still the one that was
   * read: a row a running server changed meanwhile keeps the server's newer value. Returns how
   * many rows were replaced.
   */
  async replace(table: SealedTable, replacements: readonly { id: string; from: string; to: string }[]): Promise<number> {
    if (replacements.length === 0) return 0;
    const { table: name, id, column } = SEALED_COLUMNS[table];
    const rows = await this.db.query(
      `UPDATE ${name} AS t SET ${column} = r.to_value
         FROM unnest($1::text[], $2::text[], $3::text[]) AS r(id, from_value, to_value)
        WHERE t.${id} = r.id AND t.${column} = r.from_value
    RETURNING t.${id}`,
      [replacements.map((r) => r.id), replacements.map((r) => r.from), replacements.map((r) => r.to)],
    );
    return rows.length;
  }
}
