// A durable PostgreSQL adapter for node-oidc-provider, bench-only: the peer's "durable" mode.
//
// Written the way the provider's example adapters are (example/my_adapter.js for the contract,
// example/adapters/knex.js for the one-table shape): one table keyed by (model, id) holding the
// payload as jsonb, with the columns the secondary lookups need (grant_id, user_code, uid) and the
// expiry and consumption times. Every write is awaited and commits on its own (autocommit), as a
// real deployment's would; nothing is cached here, so every find is a round trip, as it is in ours.
// Expired rows are invisible to find (the provider expects that) and left for a sweeper to delete,
// which a bench run of minutes does not need.

import pg from 'pg';

/** The same pool size as ours (DATABASE_POOL_SIZE default 10). */
export const POOL_SIZE = 10;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS oidc_payloads (
    model       text        NOT NULL,
    id          text        NOT NULL,
    payload     jsonb       NOT NULL,
    grant_id    text,
    user_code   text,
    uid         text,
    expires_at  timestamptz,
    consumed_at timestamptz,
    PRIMARY KEY (model, id)
  );
  CREATE INDEX IF NOT EXISTS oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS oidc_payloads_user_code ON oidc_payloads (user_code) WHERE user_code IS NOT NULL;
  CREATE INDEX IF NOT EXISTS oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
`;

/** Models whose payloads carry a grantId that revokeByGrantId must reach (as the memory adapter's list). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

const LIVE = '(expires_at IS NULL OR expires_at > now())';

function result(row) {
  if (row === undefined) return undefined;
  return row.consumed_at === null ? row.payload : { ...row.payload, consumed: true };
}

/**
 * Opens the pool, creates the table if missing and returns the adapter class to give the
 * provider (`adapter` in its configuration) and a close function.
 */
export async function createPostgresAdapter(connectionString) {
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE });
  await pool.query(SCHEMA);

  class PostgresAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      const expiresAt = typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null;
      await pool.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE
           SET payload = excluded.payload, grant_id = excluded.grant_id, user_code = excluded.user_code,
               uid = excluded.uid, expires_at = excluded.expires_at, consumed_at = NULL`,
        [this.model, id, payload, GRANTABLE.has(this.model) ? (payload.grantId ?? null) : null, payload.userCode ?? null, payload.uid ?? null, expiresAt],
      );
    }

    async find(id) {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND id = $2 AND ${LIVE}`, [this.model, id]);
      return result(rows[0]);
    }

    async findByUid(uid) {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND uid = $2 AND ${LIVE}`, [this.model, uid]);
      return result(rows[0]);
    }

    async findByUserCode(userCode) {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND user_code = $2 AND ${LIVE}`, [this.model, userCode]);
      return result(rows[0]);
    }

    async consume(id) {
      await pool.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async destroy(id) {
      await pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async revokeByGrantId(grantId) {
      // every model of the grant, as the memory adapter does: tokens of one grant revoke together
      await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
    }
  }

  return { PostgresAdapter, close: () => pool.end() };
}
