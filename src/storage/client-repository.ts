import type { AccessTokenFormat, CreatedVia } from '../admin-client/types.js';
import { Batcher } from './batcher.js';
import type { Queryable } from './database.js';

/** What operators decide about a client; never taken from a dynamic registration request. */
export interface ClientSettings {
  /** null: the server's ACCESS_TOKEN_FORMAT. */
  accessTokenFormat: AccessTokenFormat | null;
  /** Seconds; null: the server's ACCESS_TOKEN_LIFETIME. */
  accessTokenLifetime: number | null;
  /** Seconds since the epoch after which the client stops working; null: never. */
  expiresAt: number | null;
  disabled: boolean;
  /** May be granted the admin scopes. */
  admin: boolean;
  /** May introspect every access token (RFC 7662), not only its own. */
  resourceServer: boolean;
}

export const DEFAULT_SETTINGS: ClientSettings = { accessTokenFormat: null, accessTokenLifetime: null, expiresAt: null, disabled: false, admin: false, resourceServer: false };

/** A client as stored. Metadata is the validated, normalised document; credentials are protected. */
export interface StoredClient {
  clientId: string;
  metadata: Record<string, unknown>;
  /** AES-256-GCM ciphertext from SecretBox; null for clients that have no secret. */
  secretCiphertext: string | null;
  /** Seconds since the epoch; 0 means the secret does not expire (RFC 7591 §3.2.1). */
  secretExpiresAt: number;
  /** After a rotation with a grace period: the previous secret, accepted until `expiresAt`. */
  previousSecret: { ciphertext: string; expiresAt: number } | null;
  registrationTokenHash: Uint8Array;
  clientIdIssuedAt: number;
  settings: ClientSettings;
  createdVia: CreatedVia;
  /** Seconds since the epoch. */
  updatedAt: number;
  /** Seconds since the epoch, written at most once a minute; null: never used. */
  lastUsedAt: number | null;
  /** Bumped by every update; caches of derived data (parsed keys) are keyed by it. */
  version: number;
  /** The initial access token it was registered with; null: none, or the static one. */
  initialAccessTokenId: string | null;
  /** The registration policy it was registered under: RFC 7592 updates are checked against it. */
  registrationPolicy: string | null;
}

/** What a new client is stored with; the rest the database fills in. */
export type NewClient = Omit<StoredClient, 'version' | 'updatedAt' | 'lastUsedAt' | 'previousSecret' | 'initialAccessTokenId' | 'registrationPolicy'> &
  Partial<Pick<StoredClient, 'initialAccessTokenId' | 'registrationPolicy'>>;

interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_ciphertext: string | null;
  secret_expires_at: string | number;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: string | number | null;
  registration_token_hash: Uint8Array;
  client_id_issued_at: string | number;
  access_token_format: AccessTokenFormat | null;
  access_token_lifetime: number | null;
  expires_at: string | number | null;
  disabled: boolean;
  admin: boolean;
  resource_server: boolean;
  created_via: CreatedVia;
  updated_at: string | number;
  last_used_at: string | number | null;
  version: number;
  initial_access_token_id: string | null;
  registration_policy: string | null;
}

const COLUMNS = `client_id, metadata, secret_ciphertext, secret_expires_at, previous_secret_ciphertext, previous_secret_expires_at,
  registration_token_hash, client_id_issued_at, access_token_format, access_token_lifetime, expires_at, disabled, admin,
  resource_server, created_via, extract(epoch from updated_at)::bigint AS updated_at, last_used_at, version,
  initial_access_token_id, registration_policy`;

// bigint columns come back as strings from pg and as numbers from PGlite
const num = (value: string | number): number => Number(value);
const numOrNull = (value: string | number | null): number | null => (value === null ? null : Number(value));

function fromRow(row: ClientRow): StoredClient {
  return {
    clientId: row.client_id,
    metadata: row.metadata,
    secretCiphertext: row.secret_ciphertext,
    secretExpiresAt: num(row.secret_expires_at),
    previousSecret:
      row.previous_secret_ciphertext === null ? null : { ciphertext: row.previous_secret_ciphertext, expiresAt: num(row.previous_secret_expires_at ?? 0) },
    registrationTokenHash: row.registration_token_hash,
    clientIdIssuedAt: num(row.client_id_issued_at),
    settings: {
      accessTokenFormat: row.access_token_format,
      accessTokenLifetime: row.access_token_lifetime,
      expiresAt: numOrNull(row.expires_at),
      disabled: row.disabled,
      admin: row.admin,
      resourceServer: row.resource_server,
    },
    createdVia: row.created_via,
    updatedAt: num(row.updated_at),
    lastUsedAt: numOrNull(row.last_used_at),
    version: row.version,
    initialAccessTokenId: row.initial_access_token_id,
    registrationPolicy: row.registration_policy,
  };
}

/** The changes an RFC 7592 update may make; the token hash only when the token is rotated. */
export interface ClientUpdate {
  metadata: Record<string, unknown>;
  secretCiphertext: string | null;
  secretExpiresAt: number;
  /** The secret changed: a previous secret's grace period ends. */
  clearPreviousSecret: boolean;
  registrationTokenHash?: Uint8Array;
}

/** What an operator may change; each field present is written, the rest kept. */
export interface AdminClientChange {
  metadata?: Record<string, unknown>;
  secretCiphertext?: string | null;
  secretExpiresAt?: number;
  previousSecret?: { ciphertext: string; expiresAt: number } | null;
  registrationTokenHash?: Uint8Array;
  settings?: ClientSettings;
}

/** Filters of the admin list; all optional, combined with AND. */
export interface ClientFilter {
  text?: string;
  authMethod?: string;
  disabled?: boolean;
  /** true: only expired clients; false: only unexpired ones (as of `now`). */
  expired?: boolean;
  createdAfter?: number;
  createdBefore?: number;
  now: number;
}

/** Position in the newest-first listing: the last row of the previous page. */
export interface ListPosition {
  issuedAt: number;
  clientId: string;
}

/**
 * The columns a new client is written with, and its values in that order: the insert below and
 * the one-statement registration (registration-repository.ts) share them. The metadata value is
 * JSON text, to be cast to jsonb.
 */
export const INSERT_COLUMNS = `client_id, metadata, secret_ciphertext, secret_expires_at, registration_token_hash, client_id_issued_at,
  access_token_format, access_token_lifetime, expires_at, disabled, admin, resource_server, created_via,
  initial_access_token_id, registration_policy`;

export function insertValues(client: NewClient): unknown[] {
  return [
    client.clientId,
    JSON.stringify(client.metadata),
    client.secretCiphertext,
    client.secretExpiresAt,
    client.registrationTokenHash,
    client.clientIdIssuedAt,
    client.settings.accessTokenFormat,
    client.settings.accessTokenLifetime,
    client.settings.expiresAt,
    client.settings.disabled,
    client.settings.admin,
    client.settings.resourceServer,
    client.createdVia,
    client.initialAccessTokenId ?? null,
    client.registrationPolicy ?? null,
  ];
}

export class ClientRepository {
  /** Lookups by id, grouped while one is in flight; only over the pool, never in a transaction. */
  readonly #reads: Batcher<string, StoredClient | undefined> | undefined;

  /**
   * `batchReads`: concurrent findById calls share one statement (batcher.ts), one round trip
   * for all the requests that arrived while the previous lookup was in flight. For the shared
   * pool only: a transaction's reads must run in it, in order.
   */
  constructor(
    private readonly db: Queryable,
    options: { batchReads?: boolean } = {},
  ) {
    if (options.batchReads === true) this.#reads = new Batcher((ids) => this.#findMany(ids));
  }

  async insert(client: NewClient): Promise<void> {
    await this.db.query(
      `INSERT INTO clients (${INSERT_COLUMNS})
       VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      insertValues(client),
    );
  }

  /** How many clients exist that were registered under `policyName`. */
  async countByPolicy(policyName: string): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM clients WHERE registration_policy = $1', [policyName]);
    return Number(row?.n ?? 0);
  }

  /** How many clients exist that were registered with the initial access token `tokenId`. */
  async countByInitialAccessToken(tokenId: string): Promise<number> {
    const [row] = await this.db.query<{ n: string | number }>('SELECT count(*) AS n FROM clients WHERE initial_access_token_id = $1', [tokenId]);
    return Number(row?.n ?? 0);
  }

  /**
   * A few sealed client secrets, current and previous (grace periods), for the start-up check
   * that the secrets keys open them.
   */
  async sampleSealedSecrets(limit: number): Promise<{ clientId: string; secretCiphertext: string }[]> {
    const rows = await this.db.query<{ client_id: string; sealed: string }>(
      `(SELECT client_id, secret_ciphertext AS sealed FROM clients WHERE secret_ciphertext IS NOT NULL LIMIT $1)
       UNION ALL
       (SELECT client_id, previous_secret_ciphertext AS sealed FROM clients WHERE previous_secret_ciphertext IS NOT NULL LIMIT $1)`,
      [limit],
    );
    return rows.map((row) => ({ clientId: row.client_id, secretCiphertext: row.sealed }));
  }

  /** Whether any client was created this way (the embedded first-start bootstrap asks). */
  async anyCreatedVia(createdVia: CreatedVia): Promise<boolean> {
    return (await this.db.query('SELECT 1 AS found FROM clients WHERE created_via = $1 LIMIT 1', [createdVia])).length > 0;
  }

  /** The stored version of each of `clientIds` that still exists. */
  async versions(clientIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.db.query<{ client_id: string; version: number }>('SELECT client_id, version FROM clients WHERE client_id = ANY($1::text[])', [clientIds]);
    return new Map(rows.map((row) => [row.client_id, row.version]));
  }

  async findById(clientId: string): Promise<StoredClient | undefined> {
    if (this.#reads !== undefined) return this.#reads.submit(clientId);
    const [row] = await this.db.query<ClientRow>(`SELECT ${COLUMNS} FROM clients WHERE client_id = $1`, [clientId]);
    return row && fromRow(row);
  }

  async #findMany(clientIds: readonly string[]): Promise<(StoredClient | undefined)[]> {
    const rows = await this.db.query<ClientRow>(`SELECT ${COLUMNS} FROM clients WHERE client_id = ANY($1::text[])`, [[...new Set(clientIds)]]);
    const byId = new Map(rows.map((row) => [row.client_id, row]));
    // callers of one id share its metadata object: stored clients are read, never changed in
    // place (the client cache shares them across requests too)
    return clientIds.map((id) => {
      const row = byId.get(id);
      return row && fromRow(row);
    });
  }

  /**
   * One page of the admin list, newest first, after `position` (keyset pagination: the cost of
   * a page does not grow with how far into the list it is).
   */
  async list(filter: ClientFilter, position: ListPosition | undefined, limit: number): Promise<StoredClient[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (position) where.push(`(client_id_issued_at, client_id) < (${param(position.issuedAt)}, ${param(position.clientId)})`);
    if (filter.text !== undefined) {
      const pattern = param(`%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(client_id ILIKE ${pattern} OR metadata->>'client_name' ILIKE ${pattern})`);
    }
    if (filter.authMethod !== undefined) where.push(`metadata->>'token_endpoint_auth_method' = ${param(filter.authMethod)}`);
    if (filter.disabled !== undefined) where.push(`disabled = ${param(filter.disabled)}`);
    if (filter.expired === true) where.push(`expires_at IS NOT NULL AND expires_at <= ${param(filter.now)}`);
    if (filter.expired === false) where.push(`(expires_at IS NULL OR expires_at > ${param(filter.now)})`);
    if (filter.createdAfter !== undefined) where.push(`client_id_issued_at >= ${param(filter.createdAfter)}`);
    if (filter.createdBefore !== undefined) where.push(`client_id_issued_at < ${param(filter.createdBefore)}`);
    const rows = await this.db.query<ClientRow>(
      `SELECT ${COLUMNS} FROM clients ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY client_id_issued_at DESC, client_id DESC LIMIT ${param(limit)}`,
      params,
    );
    return rows.map(fromRow);
  }

  /**
   * Applies `update` only while the client still has the registration token the caller proved
   * (`tokenHash`) and is still at `version`: a concurrent update, rotation or delete makes this
   * one a no-op and the result undefined, so no caller is handed a token that no longer works and
   * no change made meanwhile is overwritten.
   */
  async update(clientId: string, tokenHash: Uint8Array, version: number, update: ClientUpdate): Promise<StoredClient | undefined> {
    const [row] = await this.db.query<ClientRow>(
      `UPDATE clients
          SET metadata = $2::jsonb,
              secret_ciphertext = $3,
              secret_expires_at = $4,
              registration_token_hash = COALESCE($5, registration_token_hash),
              previous_secret_ciphertext = CASE WHEN $8 THEN NULL ELSE previous_secret_ciphertext END,
              previous_secret_expires_at = CASE WHEN $8 THEN NULL ELSE previous_secret_expires_at END,
              version = version + 1,
              updated_at = now()
        WHERE client_id = $1 AND registration_token_hash = $6 AND version = $7
    RETURNING ${COLUMNS}`,
      [clientId, JSON.stringify(update.metadata), update.secretCiphertext, update.secretExpiresAt, update.registrationTokenHash ?? null, tokenHash, version, update.clearPreviousSecret],
    );
    return row && fromRow(row);
  }

  /**
   * An operator's change, applied only while the client is still at `version` (optimistic
   * concurrency: a change made meanwhile is never overwritten). Undefined when it was not.
   */
  async change(clientId: string, version: number, change: AdminClientChange): Promise<StoredClient | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [clientId, version];
    const set = (column: string, value: unknown, cast = '') => sets.push(`${column} = $${params.push(value)}${cast}`);
    if (change.metadata !== undefined) set('metadata', JSON.stringify(change.metadata), '::jsonb');
    if (change.secretCiphertext !== undefined) set('secret_ciphertext', change.secretCiphertext);
    if (change.secretExpiresAt !== undefined) set('secret_expires_at', change.secretExpiresAt);
    if (change.previousSecret !== undefined) {
      set('previous_secret_ciphertext', change.previousSecret?.ciphertext ?? null);
      set('previous_secret_expires_at', change.previousSecret?.expiresAt ?? null);
    }
    if (change.registrationTokenHash !== undefined) set('registration_token_hash', change.registrationTokenHash);
    if (change.settings !== undefined) {
      set('access_token_format', change.settings.accessTokenFormat);
      set('access_token_lifetime', change.settings.accessTokenLifetime);
      set('expires_at', change.settings.expiresAt);
      set('disabled', change.settings.disabled);
      set('admin', change.settings.admin);
      set('resource_server', change.settings.resourceServer);
    }
    const [row] = await this.db.query<ClientRow>(
      `UPDATE clients SET ${[...sets, 'version = version + 1', 'updated_at = now()'].join(', ')}
        WHERE client_id = $1 AND version = $2
    RETURNING ${COLUMNS}`,
      params,
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

  /** An operator's delete: unconditional. */
  async deleteById(clientId: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM clients WHERE client_id = $1 RETURNING client_id', [clientId])).length === 1;
  }

  /**
   * Records that clients were used, as of `at`, skipping rows already marked within the last
   * `resolutionSeconds`: a timer flushes these in one statement, never a request.
   */
  async markUsed(clientIds: readonly string[], at: number, resolutionSeconds: number): Promise<void> {
    if (clientIds.length === 0) return;
    await this.db.query(
      `UPDATE clients SET last_used_at = $2::bigint
        WHERE client_id = ANY($1::text[]) AND (last_used_at IS NULL OR last_used_at <= $2::bigint - $3::bigint)`,
      [clientIds, at, resolutionSeconds],
    );
  }
}
