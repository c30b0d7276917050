import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openEmbedded } from '../../src/storage/embedded.js';
import { migrate } from '../../src/storage/migrate.js';
import { connectPostgres } from '../../src/storage/postgres.js';
import { embeddedTemplate, freshDatabase, schemaUrl, TEST_DATABASE_URL } from '../support/test-server.js';

describe('migrations', () => {
  it('apply once on the embedded database, then are a no-op', async () => {
    const db = await openEmbedded(undefined, await embeddedTemplate('unmigrated'));
    try {
      expect(await migrate(db)).toEqual(['0001_clients.sql', '0002_client_authentication.sql', '0003_operator_settings.sql', '0004_resource_servers.sql', '0005_audit.sql', '0006_registration_control.sql', '0007_rate_limits.sql', '0008_users.sql', '0009_sessions.sql', '0010_authorization.sql', '0011_session_sid.sql', '0012_refresh_tokens.sql', '0013_claims_request.sql', '0014_pairwise_subjects.sql']);
      expect(await migrate(db)).toEqual([]);
      const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
      expect(tables.map((t) => t.table_name)).toEqual(['audit_entries', 'authorization_codes', 'authorization_requests', 'client_assertion_jtis', 'clients', 'consents', 'initial_access_tokens', 'pairwise_salt', 'pairwise_subjects', 'rate_limit_counters', 'reference_tokens', 'refresh_token_families', 'refresh_tokens', 'registration_policies', 'revoked_tokens', 'schema_migrations', 'server_keys', 'sessions', 'users']);
    } finally {
      await db.close();
    }
  });

  it.runIf(TEST_DATABASE_URL)('are applied exactly once when instances start together on PostgreSQL', async () => {
    const schema = `race_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const instances = Array.from({ length: 5 }, () => connectPostgres(schemaUrl(schema), 2, pino({ level: 'silent' })));
    try {
      const applied = await Promise.all(instances.map((db) => migrate(db)));
      expect(applied.flat()).toEqual(['0001_clients.sql', '0002_client_authentication.sql', '0003_operator_settings.sql', '0004_resource_servers.sql', '0005_audit.sql', '0006_registration_control.sql', '0007_rate_limits.sql', '0008_users.sql', '0009_sessions.sql', '0010_authorization.sql', '0011_session_sid.sql', '0012_refresh_tokens.sql', '0013_claims_request.sql', '0014_pairwise_subjects.sql']);
      const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY 1`);
      expect(rows).toEqual([{ version: '0001_clients.sql' }, { version: '0002_client_authentication.sql' }, { version: '0003_operator_settings.sql' }, { version: '0004_resource_servers.sql' }, { version: '0005_audit.sql' }, { version: '0006_registration_control.sql' }, { version: '0007_rate_limits.sql' }, { version: '0008_users.sql' }, { version: '0009_sessions.sql' }, { version: '0010_authorization.sql' }, { version: '0011_session_sid.sql' }, { version: '0012_refresh_tokens.sql' }, { version: '0013_claims_request.sql' }, { version: '0014_pairwise_subjects.sql' }]);
    } finally {
      await Promise.all(instances.map((db) => db.close()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('0011 gives sessions from before it a public sid of their own', async () => {
    const { db, drop } = await freshDatabase();
    try {
      // back to the schema before 0011, with a session in it
      await db.query('ALTER TABLE sessions DROP COLUMN sid');
      await db.query("DELETE FROM schema_migrations WHERE version = '0011_session_sid.sql'");
      await db.query("INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (repeat('a', 32), 'old', 'x', 0, 0)");
      for (const name of ['a', 'b']) {
        await db.query("INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, auth_time, amr, expires_at) VALUES ($1, repeat('a', 32), 0, 0, 0, '{pwd}', 9999999999)", [Buffer.from(name)]);
      }
      expect(await migrate(db)).toEqual(['0011_session_sid.sql']);
      const sids = (await db.query<{ sid: string }>('SELECT sid FROM sessions')).map((row) => row.sid);
      expect(sids).toHaveLength(2);
      for (const sid of sids) expect(sid).toMatch(/^[0-9a-f]{32}$/);
      expect(new Set(sids).size).toBe(2);
    } finally {
      await db.close();
      await drop();
    }
  });

  it('roll back a failing transaction entirely', async () => {
    const { db, drop } = await freshDatabase();
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO schema_migrations (version) VALUES ('9999_x.sql')");
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.query("SELECT 1 FROM schema_migrations WHERE version = '9999_x.sql'")).toEqual([]);
    } finally {
      await db.close();
      await drop();
    }
  });
});

describe('at rest', () => {
  it('stores neither the client secret nor the registration access token in the clear', async () => {
    const { startTestServer, request } = await import('../support/test-server.js');
    const server = await startTestServer();
    try {
      const client = (await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).body;
      const rows = await server.db.query<Record<string, unknown>>('SELECT * FROM clients');
      const dump = JSON.stringify(rows, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64url') : v));
      expect(dump).toContain(client.client_id);
      expect(dump).not.toContain(client.client_secret);
      expect(dump).not.toContain(client.registration_access_token);
    } finally {
      await server.close();
    }
  });
});
