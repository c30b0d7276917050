import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ADMIN_CREDENTIALS_FILE, bootstrapEmbeddedAdmin } from '../../src/admin/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';
import { AuditRepository } from '../../src/storage/audit-repository.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AdminCredentials } from '../../src/admin-client/types.js';
import { AUDIT_ACTIONS, type AuditEntry } from '../../src/audit/audit.js';
import { cliChangeContext } from '../../src/cli/local-database.js';
import { secretsCommand } from '../../src/cli/secrets.js';
import { ClientRepository } from '../../src/storage/client-repository.js';
import type { Queryable } from '../../src/storage/database.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { advanceWallClock } from '../support/clock.js';
import { basic, postForm } from '../support/client-auth.js';
import { freshDatabase, request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/**
 * The audit trail as an operator reads it (GET /admin/audit) after real requests: one entry per
 * action, with who, from where, which request and the names of what changed; written with its
 * change or not at all; and never a secret.
 */
describe(`audit trail (${storageKind})`, () => {
  let server: TestServer;
  let credentials: AdminCredentials;
  let token: string;
  /** Every secret and token value this file is handed: none may appear in the audit table. */
  const handedOut = new Set<string>();
  const keep = (...values: unknown[]) => {
    for (const value of values) if (typeof value === 'string' && value.length >= 16) handedOut.add(value);
  };

  beforeAll(async () => {
    server = await startTestServer();
    credentials = await bootstrapAdmin(server);
    keep(credentials.private_jwk.d);
    token = await adminToken(server, credentials);
    keep(token);
  });
  afterAll(async () => server?.close());

  const admin = async (method: string, path: string, options: Parameters<typeof request>[3] = {}) => {
    const res = await request(server, method, `/admin${path}`, { token, ...options });
    keep(res.body?.client_secret, res.body?.registration_access_token);
    return res;
  };

  /** The entries of `query` (GET /admin/audit), newest first. */
  async function entries(query = ''): Promise<AuditEntry[]> {
    const res = await admin('GET', `/audit${query === '' ? '' : `?${query}`}`);
    expect(res.status, res.text).toBe(200);
    return res.body.entries as AuditEntry[];
  }

  /** The one entry a request made: found by its request id. */
  async function entryOf(requestId: string): Promise<AuditEntry> {
    const found = (await entries('limit=200')).filter((entry) => entry.request_id === requestId);
    expect(found, `entries of request ${requestId}`).toHaveLength(1);
    return found[0]!;
  }

  const withId = () => {
    const id = `audit-${randomUUID()}`;
    return { id, headers: { 'x-request-id': id } };
  };

  describe('an entry for each action', () => {
    it('open registration (POST /register): anonymous, the new client, every field it registered, its credentials by name', async () => {
      const { id, headers } = withId();
      const res = await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], client_name: 'Shop' }, headers });
      expect(res.status).toBe(201);
      keep(res.body.client_secret, res.body.registration_access_token);
      expect(await entryOf(id)).toMatchObject({
        action: 'client.register',
        actor_type: 'anonymous',
        actor_id: null,
        client_id: res.body.client_id,
        source_address: '127.0.0.1',
        request_id: id,
        changed_fields: expect.arrayContaining(['client_name', 'redirect_uris', 'token_endpoint_auth_method', 'client_secret', 'registration_access_token']),
      });
    });

    it('RFC 7592 update and delete: the client itself is the actor; only what differs is named', async () => {
      const registered = await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'], client_name: 'Before' } });
      keep(registered.body.client_secret, registered.body.registration_access_token);
      const { client_id: clientId, registration_access_token: rat } = registered.body as { client_id: string; registration_access_token: string };

      const update = withId();
      const body = { client_id: clientId, redirect_uris: ['https://rp.example/cb'], client_name: 'After' };
      expect((await request(server, 'PUT', `/register/${clientId}`, { json: body, token: rat, headers: update.headers })).status).toBe(200);
      expect(await entryOf(update.id)).toMatchObject({ action: 'client.update', actor_type: 'client', actor_id: clientId, client_id: clientId, changed_fields: ['client_name'] });

      // a public client has no secret: the removed one is named
      const toPublic = withId();
      const res = await request(server, 'PUT', `/register/${clientId}`, { json: { ...body, token_endpoint_auth_method: 'none' }, token: rat, headers: toPublic.headers });
      expect(res.status).toBe(200);
      expect((await entryOf(toPublic.id)).changed_fields).toEqual(['token_endpoint_auth_method', 'client_secret']);

      const remove = withId();
      expect((await request(server, 'DELETE', `/register/${clientId}`, { token: rat, headers: remove.headers })).status).toBe(204);
      expect(await entryOf(remove.id)).toMatchObject({ action: 'client.delete', actor_type: 'client', actor_id: clientId, client_id: clientId, changed_fields: [] });
    });

    it('a refused RFC 7592 request (wrong token) changes nothing and records nothing', async () => {
      const registered = await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } });
      keep(registered.body.client_secret, registered.body.registration_access_token);
      const { id, headers } = withId();
      expect((await request(server, 'DELETE', `/register/${registered.body.client_id as string}`, { token: 'A'.repeat(43), headers })).status).toBe(401);
      expect((await entries('limit=200')).filter((entry) => entry.request_id === id)).toEqual([]);
    });

    it('every admin API change: the admin client is the actor, with the request id and the changed names', async () => {
      const machine = { grant_types: ['client_credentials'], client_name: 'Billing', scope: 'openid' };
      const created = withId();
      const res = await admin('POST', '/clients', { json: { ...machine, access_token_lifetime: 60 }, headers: created.headers });
      expect(res.status).toBe(201);
      const clientId = res.body.client_id as string;
      const path = `/clients/${clientId}`;
      const adminActor = { actor_type: 'admin', actor_id: credentials.client_id, client_id: clientId, source_address: '127.0.0.1' };
      expect(await entryOf(created.id)).toMatchObject({
        ...adminActor,
        action: 'client.create',
        changed_fields: expect.arrayContaining(['client_name', 'grant_types', 'scope', 'access_token_lifetime', 'client_secret', 'registration_access_token']),
      });

      const cases: [method: string, path: string, options: Parameters<typeof request>[3], action: string, fields: string[]][] = [
        ['PUT', path, { json: { ...machine, client_name: 'Billing 2' } }, 'client.update', ['access_token_lifetime', 'client_name']],
        ['PATCH', path, { body: JSON.stringify({ scope: 'openid profile', access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' } }, 'client.update', ['access_token_format', 'scope']],
        ['POST', `${path}/disable`, {}, 'client.disable', ['disabled']],
        ['POST', `${path}/enable`, {}, 'client.enable', ['disabled']],
        ['POST', `${path}/rotate-secret`, { json: { grace_period: 60 } }, 'client.rotate_secret', ['client_secret']],
        ['POST', `${path}/rotate-registration-token`, {}, 'client.rotate_registration_token', ['registration_access_token']],
        ['DELETE', path, {}, 'client.delete', []],
      ];
      for (const [method, target, options, action, fields] of cases) {
        const { id, headers } = withId();
        const answer = await admin(method, target, { ...options, headers: { ...options?.headers, ...headers } });
        expect(answer.status, `${method} ${target}: ${answer.text}`).toBeLessThan(300);
        expect(await entryOf(id), `${method} ${target}`).toMatchObject({ ...adminActor, action, request_id: id, changed_fields: fields });
      }
    });

    it('an unchanged disable (already disabled) is still recorded, with nothing named', async () => {
      const res = await admin('POST', '/clients', { json: { grant_types: ['client_credentials'], disabled: true } });
      const { id, headers } = withId();
      expect((await admin('POST', `/clients/${res.body.client_id as string}/disable`, { headers })).status).toBe(200);
      expect(await entryOf(id)).toMatchObject({ action: 'client.disable', changed_fields: [] });
    });

    it('signing key rotation (admin API, `keys rotate`): the new key id, no key material; one entry per key', async () => {
      const { id, headers } = withId();
      const res = await admin('POST', '/keys/rotate', { headers, json: { alg: 'RS256' } });
      expect(res.status).toBe(201);
      expect(await entryOf(id)).toMatchObject({ action: 'key.rotate', actor_type: 'admin', actor_id: credentials.client_id, client_id: null, details: { kid: res.body.keys[0].kid, alg: 'RS256' } });
      const both = withId();
      const all = await admin('POST', '/keys/rotate', { headers: both.headers });
      const recorded = (await entries('limit=200')).filter((entry) => entry.request_id === both.id);
      expect(recorded.map((entry) => entry.details).sort((a, b) => String(a.alg).localeCompare(String(b.alg)))).toEqual(
        all.body.keys.map((key: { kid: string; alg: string }) => ({ kid: key.kid, alg: key.alg })),
      );
    });

    it('admin bootstrap: the CLI on the database, as its OS user@host', async () => {
      const [entry] = await entries(`action=admin.bootstrap&client_id=${credentials.client_id}`);
      expect(entry).toMatchObject({ actor_type: 'cli', actor_id: cliChangeContext().actor.id, client_id: credentials.client_id, source_address: null, request_id: null });
      expect(entry!.changed_fields).toEqual(expect.arrayContaining(['admin', 'jwks', 'token_endpoint_auth_method', 'registration_access_token']));
    });

    it('the embedded first start\'s bootstrap: the server itself (system), no address or request', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'registrar-audit-bootstrap-'));
      const { db, drop } = await freshDatabase();
      try {
        await bootstrapEmbeddedAdmin(db, loadConfig({ DATA_DIR: dataDir }), pino({ level: 'silent' }));
        const written = JSON.parse(readFileSync(join(dataDir, ADMIN_CREDENTIALS_FILE), 'utf8')) as AdminCredentials;
        const [entry, ...others] = await new AuditRepository(db).list({}, undefined, 10);
        expect(others).toEqual([]);
        expect(entry).toMatchObject({ action: 'admin.bootstrap', actor_type: 'system', actor_id: null, client_id: written.client_id, source_address: null, request_id: null });
        expect(JSON.stringify(entry)).not.toContain(written.private_jwk.d as string);
      } finally {
        await db.close();
        await drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('secrets reseal: one entry per run, counts only', async () => {
      const lines: string[] = [];
      expect(await secretsCommand('reseal', server.config, server.db, (line) => lines.push(line), 500)).toBe(0);
      const [entry] = await entries('action=secrets.reseal');
      expect(entry).toMatchObject({ actor_type: 'cli', client_id: null, changed_fields: [], details: { clients_resealed: 0, server_keys_resealed: 0 } });
    });
  });

  describe('initial access tokens and registration policies', () => {
    it('every change is recorded by the admin: names of changed rules, token ids and limits, never the token', async () => {
      const name = `partner-${randomUUID().slice(0, 8)}`;
      const create = withId();
      expect((await admin('POST', '/policies', { json: { name, rules: { grant_types: ['authorization_code'], required_fields: ['contacts'] } }, headers: create.headers })).status).toBe(201);
      expect(await entryOf(create.id)).toMatchObject({
        action: 'policy.create',
        actor_type: 'admin',
        actor_id: credentials.client_id,
        changed_fields: ['grant_types', 'required_fields'],
        details: { registration_policy: name },
      });

      const replace = withId();
      const rules = { grant_types: ['authorization_code'], required_fields: ['client_uri'], allow_loopback_redirects: false };
      expect((await admin('PUT', `/policies/${name}`, { json: { description: 'Partner A', rules }, headers: replace.headers })).status).toBe(200);
      // grant_types is unchanged: only what differs is named
      expect((await entryOf(replace.id)).changed_fields).toEqual(['description', 'allow_loopback_redirects', 'required_fields']);

      const setDefault = withId();
      expect((await admin('PUT', '/default-policy', { json: { name }, headers: setDefault.headers })).status).toBe(200);
      expect(await entryOf(setDefault.id)).toMatchObject({ action: 'policy.set_default', details: { registration_policy: name } });
      const clearDefault = withId();
      expect((await admin('DELETE', '/default-policy', { headers: clearDefault.headers })).status).toBe(204);
      expect(await entryOf(clearDefault.id)).toMatchObject({ action: 'policy.clear_default', actor_id: credentials.client_id });

      const issue = withId();
      const iat = await admin('POST', '/initial-access-tokens', { json: { max_uses: 2, expires_in: 3600, policy: name }, headers: issue.headers });
      expect(iat.status, iat.text).toBe(201);
      keep(iat.body.token);
      expect(await entryOf(issue.id)).toMatchObject({
        action: 'initial_access_token.create',
        client_id: null,
        details: { initial_access_token_id: iat.body.id, registration_policy: name, max_uses: 2, expires_at: iat.body.expires_at },
      });

      const register = withId();
      const registered = await request(server, 'POST', '/register', {
        json: { redirect_uris: ['https://partner.example/cb'], client_uri: 'https://partner.example', grant_types: ['authorization_code'] },
        headers: { ...register.headers, authorization: `Bearer ${iat.body.token as string}` },
      });
      expect(registered.status, registered.text).toBe(201);
      keep(registered.body.client_secret, registered.body.registration_access_token);
      expect(await entryOf(register.id)).toMatchObject({
        action: 'client.register',
        client_id: registered.body.client_id,
        details: { initial_access_token_id: iat.body.id, registration_policy: name },
      });

      const revoke = withId();
      expect((await admin('POST', `/initial-access-tokens/${iat.body.id as string}/revoke`, { headers: revoke.headers })).status).toBe(200);
      expect(await entryOf(revoke.id)).toMatchObject({ action: 'initial_access_token.revoke', details: { initial_access_token_id: iat.body.id } });

      const spare = `spare-${randomUUID().slice(0, 8)}`;
      expect((await admin('POST', '/policies', { json: { name: spare, rules: {} } })).status).toBe(201);
      const remove = withId();
      expect((await admin('DELETE', `/policies/${spare}`, { headers: remove.headers })).status).toBe(204);
      expect(await entryOf(remove.id)).toMatchObject({ action: 'policy.delete', details: { registration_policy: spare } });
    });

    it('a refused policy change (unknown policy, bad rules) records nothing', async () => {
      const { id, headers } = withId();
      expect((await admin('PUT', '/policies/no-such-policy', { json: { rules: {} }, headers })).status).toBe(404);
      expect((await entries('limit=200')).filter((entry) => entry.request_id === id)).toEqual([]);
    });
  });

  describe('failed admin authentication', () => {
    it('no token, a bad token, a token of a non-admin client: 401, each recorded on its own, never the token', async () => {
      const plain = await admin('POST', '/clients', { json: { grant_types: ['client_credentials'] } });
      const issued = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(plain.body.client_id as string, plain.body.client_secret as string) });
      keep(issued.body.access_token);
      const attempts: [token: string | undefined, actorType: string, actorId: string | null][] = [
        [undefined, 'anonymous', null],
        ['B'.repeat(43), 'anonymous', null],
        [issued.body.access_token as string, 'client', plain.body.client_id as string],
      ];
      for (const [bad, actorType, actorId] of attempts) {
        const { id, headers } = withId();
        const res = await request(server, 'GET', '/admin/clients', { headers, ...(bad !== undefined ? { token: bad } : {}) });
        expect(res.status).toBe(401);
        expect(await entryOf(id)).toMatchObject({
          action: 'admin.authentication_failed',
          actor_type: actorType,
          actor_id: actorId,
          source_address: '127.0.0.1',
          details: { status: 401, error: 'invalid_token', method: 'GET', path: '/admin/clients' },
        });
      }
    });

    it('repeated refusals of one kind from one address: one entry a minute, the next says how many were not written', async () => {
      const junk = `J${randomUUID().replaceAll('-', '')}${'J'.repeat(10)}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { id, headers } = withId();
        ids.push(id);
        // a route of its own, so that this kind of refusal is not one an earlier test made
        expect((await request(server, 'GET', `/admin/keys?flood=${i}`, { headers, token: junk })).status).toBe(401);
      }
      const written = (await entries('action=admin.authentication_failed&limit=200')).filter((entry) => ids.includes(entry.request_id ?? ''));
      expect(written.map((entry) => entry.request_id)).toEqual([ids[0]]);
      advanceWallClock(61_000);
      const { id, headers } = withId();
      expect((await request(server, 'GET', '/admin/keys', { headers, token: junk })).status).toBe(401);
      expect((await entryOf(id)).details).toMatchObject({ status: 401, error: 'invalid_token', repeated: 4 });
    });

    it('an admin token without the scope the operation needs: 403, the admin client named', async () => {
      const readOnly = await adminToken(server, credentials, 'admin:read');
      keep(readOnly);
      const { id, headers } = withId();
      expect((await request(server, 'POST', '/admin/keys/rotate', { token: readOnly, headers })).status).toBe(403);
      expect(await entryOf(id)).toMatchObject({ action: 'admin.authentication_failed', actor_type: 'admin', actor_id: credentials.client_id, details: { status: 403, error: 'insufficient_scope' } });
    });

    it('a successful admin request records no failure', async () => {
      const { id, headers } = withId();
      expect((await admin('GET', '/clients', { headers })).status).toBe(200);
      expect((await entries('action=admin.authentication_failed&limit=200')).filter((entry) => entry.request_id === id)).toEqual([]);
    });
  });

  describe('written atomically with the change', () => {
    it('a change that loses every race (409) writes no entry, and the winner is not overwritten', async () => {
      const res = await admin('POST', '/clients', { json: { grant_types: ['client_credentials'], client_name: 'Raced' } });
      const change = ClientRepository.prototype.change;
      // another operator's change lands between each read and the conditional write
      const racing = vi.spyOn(ClientRepository.prototype, 'change').mockImplementation(async function (this: ClientRepository, clientId, version, update) {
        await (this as unknown as { db: Queryable }).db.query('UPDATE clients SET version = version + 1 WHERE client_id = $1', [clientId]);
        return change.call(this, clientId, version, update);
      });
      const { id, headers } = withId();
      try {
        expect((await admin('POST', `/clients/${res.body.client_id as string}/disable`, { headers })).status).toBe(409);
      } finally {
        racing.mockRestore();
      }
      expect((await entries('limit=200')).filter((entry) => entry.request_id === id)).toEqual([]);
      expect((await admin('GET', `/clients/${res.body.client_id as string}`)).body.disabled).toBe(false);
    });

    it('a change whose entry cannot be written is not made: no client, no update, no delete', async () => {
      const existing = await admin('POST', '/clients', { json: { grant_types: ['client_credentials'], client_name: 'Kept' } });
      const path = `/clients/${existing.body.client_id as string}`;
      const countClients = async () => Number((await server.db.query<{ n: string }>('SELECT count(*) AS n FROM clients'))[0]!.n);
      const before = await countClients();
      // every new audit row now violates a constraint: the insert fails inside each change's transaction
      await server.db.query('ALTER TABLE audit_entries ADD CONSTRAINT refuse_all CHECK (false) NOT VALID');
      try {
        expect((await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).status).toBe(500);
        expect((await admin('POST', '/clients', { json: { grant_types: ['client_credentials'] } })).status).toBe(500);
        expect((await admin('PATCH', path, { body: JSON.stringify({ client_name: 'Lost' }), headers: { 'content-type': 'application/merge-patch+json' } })).status).toBe(500);
        expect((await admin('DELETE', path)).status).toBe(500);
        expect((await admin('POST', '/keys/rotate')).status).toBe(500);
      } finally {
        await server.db.query('ALTER TABLE audit_entries DROP CONSTRAINT refuse_all');
      }
      expect(await countClients()).toBe(before);
      expect((await admin('GET', path)).body.client_name).toBe('Kept');
    });
  });

  describe('listing', () => {
    it('filters by client, action, actor (type or id) and time; refuses unknown and repeated parameters', async () => {
      const res = await admin('POST', '/clients', { json: { grant_types: ['client_credentials'] } });
      const clientId = res.body.client_id as string;
      await admin('POST', `/clients/${clientId}/disable`);
      expect((await entries(`client_id=${clientId}`)).map((entry) => entry.action)).toEqual(['client.disable', 'client.create']);
      expect((await entries(`client_id=${clientId}&action=client.create`)).map((entry) => entry.action)).toEqual(['client.create']);
      expect((await entries(`client_id=${clientId}&actor=admin`)).length).toBe(2);
      expect((await entries(`client_id=${clientId}&actor=${credentials.client_id}`)).length).toBe(2);
      expect(await entries(`client_id=${clientId}&actor=anonymous`)).toEqual([]);
      const [newest] = await entries(`client_id=${clientId}`);
      expect((await entries(`client_id=${clientId}&since=${newest!.at}`)).length).toBeGreaterThanOrEqual(1);
      expect(await entries(`client_id=${clientId}&since=${newest!.at + 1}`)).toEqual([]);
      expect(await entries(`client_id=${clientId}&until=${newest!.at - 3600}`)).toEqual([]);
      for (const query of ['actions=client.create', 'client_id=a&client_id=b', 'action=client.nothing', 'since=yesterday']) {
        const refused = await admin('GET', `/audit?${query}`);
        expect([refused.status, refused.body.error], query).toEqual([400, 'invalid_request']);
      }
    });

    it('pages newest first with next_cursor: every entry once, in order', async () => {
      const all = await entries('limit=200');
      const seen: AuditEntry[] = [];
      let cursor: string | null = null;
      do {
        const page = await admin('GET', `/audit?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`);
        seen.push(...(page.body.entries as AuditEntry[]));
        cursor = page.body.next_cursor as string | null;
      } while (cursor !== null && seen.length < all.length + 10);
      // the listing itself is no action: nothing was added while paging
      expect(seen.map((entry) => entry.id)).toEqual(all.map((entry) => entry.id));
      expect([...seen.map((entry) => entry.id)].sort((a, b) => b - a)).toEqual(seen.map((entry) => entry.id));
    });

    it('has recorded only the actions of AUDIT_ACTIONS', async () => {
      for (const entry of await entries('limit=200')) expect(AUDIT_ACTIONS).toContain(entry.action);
    });
  });

  // last: after every action above has handed out its secrets
  it('holds no secret or token value anywhere: every column of every row, as text', async () => {
    const rows = await server.db.query<{ row: string }>('SELECT row_to_json(a)::text AS row FROM audit_entries a');
    expect(rows.length).toBeGreaterThan(20);
    expect(handedOut.size).toBeGreaterThan(20);
    const leaked = [...handedOut].filter((secret) => rows.some(({ row }) => row.includes(secret)));
    expect(leaked).toEqual([]);
  });
});
