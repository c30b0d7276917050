import type { Queryable } from './database.js';

/** A client as stored. Metadata is the validated, normalised document; credentials are protected. */
export interface StoredClient {
  clientId: string;
  metadata: Record<string, unknown>;
  /** AES-256-GCM ciphertext from SecretBox; null for clients that have no secret. */
  secretCiphertext: string | null;
  /** Seconds since the epoch; 0 means the secret does not expire (RFC 7591 §3.2.1). */
  secretExpiresAt: number;
  registrationTokenHash: Uint8Array;
  clientIdIssuedAt: number;
  /** Bumped by every update; caches of derived data (parsed keys) are keyed by it. */
  version: number;
}

interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_ciphertext: string | null;
  secret_expires_at: string | number;
  registration_token_hash: Uint8Array;
  client_id_issued_at: string | number;
  version: number;
}

const COLUMNS = 'client_id, metadata, secret_ciphertext, secret_expires_at, registration_token_hash, client_id_issued_at, version';

function fromRow(row: ClientRow): StoredClient {
  return {
    clientId: row.client_id,
    metadata: row.metadata,
    secretCiphertext: row.secret_ciphertext,
    // bigint columns come back as strings from pg and as numbers from PGlite
    secretExpiresAt: Number(row.secret_expires_at),
    registrationTokenHash: row.registration_token_hash,
    clientIdIssuedAt: Number(row.client_id_issued_at),
    version: row.version,
  };
}

/** The changes an update may make; the token hash only when the token is rotated. */
export interface ClientUpdate {
  metadata: Record<string, unknown>;
  secretCiphertext: string | null;
  secretExpiresAt: number;
  registrationTokenHash?: Uint8Array;
}

export class ClientRepository {
  constructor(private readonly db: Queryable) {}

  async insert(client: Omit<StoredClient, 'version'>): Promise<void> {
    await this.db.query(
      `INSERT INTO clients (client_id, metadata, secret_ciphertext, secret_expires_at, registration_token_hash, client_id_issued_at)
       VALUES ($1, $2::jsonb, $3, $4, $5, $6)`,
      [
        client.clientId,
        JSON.stringify(client.metadata),
        client.secretCiphertext,
        client.secretExpiresAt,
        client.registrationTokenHash,
        client.clientIdIssuedAt,
      ],
    );
  }

  /** A few sealed client secrets, for the start-up check that the secrets keys open them. */
  async sampleSealedSecrets(limit: number): Promise<{ clientId: string; secretCiphertext: string }[]> {
    const rows = await this.db.query<{ client_id: string; secret_ciphertext: string }>(
      'SELECT client_id, secret_ciphertext FROM clients WHERE secret_ciphertext IS NOT NULL LIMIT $1',
      [limit],
    );
    return rows.map((row) => ({ clientId: row.client_id, secretCiphertext: row.secret_ciphertext }));
  }

  /** The stored version of each of `clientIds` that still exists. */
  async versions(clientIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.db.query<{ client_id: string; version: number }>('SELECT client_id, version FROM clients WHERE client_id = ANY($1::text[])', [clientIds]);
    return new Map(rows.map((row) => [row.client_id, row.version]));
  }

  async findById(clientId: string): Promise<StoredClient | undefined> {
    const [row] = await this.db.query<ClientRow>(`SELECT ${COLUMNS} FROM clients WHERE client_id = $1`, [clientId]);
    return row && fromRow(row);
  }

  /**
   * Applies `update` only while the client still has the registration token the caller proved
   * (`tokenHash`): a concurrent update that rotated it, or a delete, makes this one a no-op and
   * the result undefined, so no caller is handed a token that no longer works.
   */
  async update(clientId: string, tokenHash: Uint8Array, update: ClientUpdate): Promise<StoredClient | undefined> {
    const [row] = await this.db.query<ClientRow>(
      `UPDATE clients
          SET metadata = $2::jsonb,
              secret_ciphertext = $3,
              secret_expires_at = $4,
              registration_token_hash = COALESCE($5, registration_token_hash),
              version = version + 1,
              updated_at = now()
        WHERE client_id = $1 AND registration_token_hash = $6
    RETURNING ${COLUMNS}`,
      [clientId, JSON.stringify(update.metadata), update.secretCiphertext, update.secretExpiresAt, update.registrationTokenHash ?? null, tokenHash],
    );
    return row && fromRow(row);
  }

  /** True when the client was deleted; like update, only while it still has `tokenHash`. */
  async delete(clientId: string, tokenHash: Uint8Array): Promise<boolean> {
    const rows = await this.db.query<{ client_id: string }>(
      'DELETE FROM clients WHERE client_id = $1 AND registration_token_hash = $2 RETURNING client_id',
      [clientId, tokenHash],
    );
    return rows.length === 1;
  }
}
