import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminCredentials } from '../../src/admin-client/types.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { advanceWallClock } from '../support/clock.js';

type Json = Record<string, any>;

describe(`admin API (${storageKind})`, () => {
  let server: TestServer;
  let admin: AdminCredentials;
  let token: string;
  const call = (method: string, path: string, options: { json?: unknown; body?: string; headers?: Record<string, string>; token?: string } = {}) =>
    request(server, method, `/admin${path}`, { token, ...options });
  const machine = { grant_types: ['client_credentials'], scope: 'openid profile', client_name: 'Billing service' };
  const tokenFor = (client: Json, secret = client.client_secret as string) =>
    postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, secret) });

  beforeAll(async () => {
    server = await startTestServer();
    admin = await bootstrapAdmin(server);
    token = await adminToken(server, admin);
  });
  afterAll(async () => server.close());

  describe('who may call it', () => {
    it('no token: 401 with a bare Bearer challenge', async () => {
      const res = await call('GET', '/clients', { token: undefined as never, headers: {} });
      const bare = await request(server, 'GET', '/admin/clients');
      expect(res.status).toBe(401);
      expect([bare.status, bare.body.error, bare.headers.get('www-authenticate')]).toEqual([401, 'invalid_token', 'Bearer']);
    });

    it('a malformed or unknown token: 401 invalid_token', async () => {
      for (const bad of ['nope', 'a'.repeat(43), 'eyJhbGciOiJFUzI1NiJ9.e30.sig']) {
        const res = await call('GET', '/clients', { token: bad });
        expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      }
    });

    it('a read-only token may read, not write: 403 insufficient_scope naming admin:write', async () => {
      const readOnly = await adminToken(server, admin, 'admin:read');
      expect((await call('GET', '/clients', { token: readOnly })).status).toBe(200);
      const res = await call('POST', '/clients', { token: readOnly, json: machine });
      expect([res.status, res.body.error]).toEqual([403, 'insufficient_scope']);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="admin:write"');
    });

    it('admin tokens are addressed to the admin API alone; other tokens are not admin tokens', async () => {
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
      expect(claims.aud).toBe(`${server.config.issuer}/admin`);
      // a body that cannot be parsed is not looked at before the caller is known
      const unauthenticated = await request(server, 'PATCH', '/admin/clients/AAAAAAAAAAAAAAAAAAAAAAAA', { body: '{', headers: { 'content-type': 'application/merge-patch+json' } });
      expect([unauthenticated.status, unauthenticated.body.error]).toEqual([401, 'invalid_token']);
    });

    it('a write-only token may not read', async () => {
      const writeOnly = await adminToken(server, admin, 'admin:write');
      const res = await call('GET', '/clients', { token: writeOnly });
      expect([res.status, res.body.error]).toEqual([403, 'insufficient_scope']);
    });

    it('a dynamically registered client asking for an admin scope gets invalid_scope; its own token is refused', async () => {
      const client = await registerMachineClient(server, {});
      const asked = await postForm(server, '/token', { grant_type: 'client_credentials', scope: 'admin:read' }, { authorization: basic(client.client_id, client.client_secret) });
      expect([asked.status, asked.body.error]).toEqual([400, 'invalid_scope']);
      const own = (await tokenFor(client)).body.access_token as string;
      expect((await call('GET', '/clients', { token: own })).status).toBe(401);
    });

    it('a revoked admin token, and a token of an admin since disabled, stop working', async () => {
      const revoked = await adminToken(server, admin);
      const created = (await call('POST', '/clients', { json: { ...machine, admin: true } })).body;
      const other = (await postForm(server, '/token', { grant_type: 'client_credentials', scope: 'admin:read' }, { authorization: basic(created.client_id, created.client_secret) })).body.access_token;
      expect((await call('GET', '/clients', { token: other })).status).toBe(200);
      expect((await call('POST', `/clients/${created.client_id}/disable`)).status).toBe(200);
      expect((await call('GET', '/clients', { token: other })).status).toBe(401);

      // the bootstrap client revokes its own token (RFC 7009) with a fresh assertion
      const { importJWK, SignJWT } = await import('jose');
      const assertion = await new SignJWT({ jti: `revoke-${Date.now()}` })
        .setProtectedHeader({ alg: 'ES256', kid: admin.private_jwk.kid })
        .setIssuer(admin.client_id).setSubject(admin.client_id).setAudience(server.config.issuer).setExpirationTime('60s')
        .sign(await importJWK(admin.private_jwk, 'ES256'));
      const revocation = await postForm(server, '/revoke', { token: revoked, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
      expect(revocation.status).toBe(200);
      expect((await call('GET', '/clients', { token: revoked })).status).toBe(401);
    });

    it('a reference admin token works like a JWT one', async () => {
      const patched = await call('PATCH', `/clients/${admin.client_id}`, { body: JSON.stringify({ access_token_format: 'reference' }), headers: { 'content-type': 'application/merge-patch+json' } });
      expect(patched.status).toBe(200);
      const reference = await adminToken(server, admin);
      expect(reference).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await call('GET', '/clients', { token: reference })).status).toBe(200);
      expect((await call('GET', '/clients', { token: 'x'.repeat(43) })).status).toBe(401);
      await call('PATCH', `/clients/${admin.client_id}`, { body: JSON.stringify({ access_token_format: null }), headers: { 'content-type': 'application/merge-patch+json' } });
    });
  });

  describe('clients', () => {
    it('create: 201 with Location, the secret and registration access token once, settings and provenance', async () => {
      const res = await call('POST', '/clients', { json: { ...machine, access_token_lifetime: 120 } });
      expect(res.status).toBe(201);
      const created = res.body as Json;
      expect(res.headers.get('location')).toBe(`${server.config.issuer}/admin/clients/${created.client_id}`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(created).toMatchObject({
        client_name: 'Billing service',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        has_client_secret: true,
        access_token_format: 'jwt',
        access_token_lifetime: 120,
        expires_at: null,
        disabled: false,
        admin: false,
        resource_server: false,
        created_via: 'admin_api',
        last_used_at: null,
      });
      expect(typeof created.client_secret).toBe('string');
      expect(typeof created.registration_access_token).toBe('string');
      const read = (await call('GET', `/clients/${created.client_id}`)).body as Json;
      expect(read).not.toHaveProperty('client_secret');
      expect(read).not.toHaveProperty('registration_access_token');
      expect(read.created_at).toBe(created.client_id_issued_at);

      // the per-client lifetime is what its tokens get
      const issued = (await tokenFor(created)).body;
      expect(issued.expires_in).toBe(120);
      const claims = JSON.parse(Buffer.from(issued.access_token.split('.')[1], 'base64url').toString());
      expect(claims.exp - claims.iat).toBe(120);

      // and it manages itself through RFC 7592 with the token it was given
      const self = await request(server, 'GET', `/register/${created.client_id}`, { token: created.registration_access_token });
      expect(self.status).toBe(200);
    });

    it('create refuses bad metadata and bad settings by name, changing nothing', async () => {
      const badUri = await call('POST', '/clients', { json: { redirect_uris: ['http://rp.example/cb'] } });
      expect([badUri.status, badUri.body.error]).toEqual([400, 'invalid_redirect_uri']);
      for (const [settings, field] of [
        [{ access_token_format: 'opaque' }, 'access_token_format'],
        [{ access_token_lifetime: 0 }, 'access_token_lifetime'],
        [{ access_token_lifetime: 86_401 }, 'access_token_lifetime'],
        [{ expires_at: '2030-01-01' }, 'expires_at'],
        [{ disabled: 'yes' }, 'disabled'],
        [{ admin: 1 }, 'admin'],
      ] as const) {
        const res = await call('POST', '/clients', { json: { ...machine, ...settings } });
        expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
        expect(res.body.error_description).toMatch(new RegExp(`^${field} must be`));
      }
      const array = await call('POST', '/clients', { json: [machine] });
      expect([array.status, array.body.error]).toEqual([400, 'invalid_request']);
    });

    it('dynamic registration cannot set operator settings: they are dropped, the defaults apply', async () => {
      const res = await request(server, 'POST', '/register', { json: { ...machine, admin: true, disabled: false, access_token_lifetime: 86_400, access_token_format: 'reference' } });
      expect(res.status).toBe(201);
      expect(res.body).not.toHaveProperty('admin');
      const read = (await call('GET', `/clients/${res.body.client_id}`)).body as Json;
      expect(read).toMatchObject({ admin: false, access_token_lifetime: server.config.tokens.lifetimeSeconds, access_token_format: 'jwt', created_via: 'dynamic_registration' });
    });

    it('PUT replaces metadata and token settings: omitted fields go, omitted token settings return to defaults', async () => {
      const created = (await call('POST', '/clients', { json: { ...machine, contacts: ['ops@example.com'], access_token_lifetime: 60, admin: true, disabled: true, expires_at: 4_000_000_000 } })).body as Json;
      const res = await call('PUT', `/clients/${created.client_id}`, { json: { client_id: created.client_id, grant_types: ['client_credentials'], client_name: 'Renamed', created_at: 1, last_used_at: 5 } });
      expect(res.status).toBe(200);
      // disabled, admin and expires_at change only when named: a rename re-enables nothing
      expect(res.body).toMatchObject({ client_name: 'Renamed', access_token_lifetime: server.config.tokens.lifetimeSeconds, admin: true, disabled: true, expires_at: 4_000_000_000 });
      const named = await call('PUT', `/clients/${created.client_id}`, { json: { grant_types: ['client_credentials'], admin: false, disabled: false, expires_at: null } });
      expect(named.body).toMatchObject({ admin: false, disabled: false, expires_at: null });
      expect(res.body).not.toHaveProperty('contacts');
      expect(res.body).not.toHaveProperty('client_secret'); // kept, so not shown
      expect(res.body.created_at).toBe(created.created_at); // read-only fields are ignored
      expect((await tokenFor(created)).status).toBe(200);
      const wrongId = await call('PUT', `/clients/${created.client_id}`, { json: { client_id: 'someone-else-0000000000', grant_types: ['client_credentials'] } });
      expect([wrongId.status, wrongId.body.error]).toEqual([400, 'invalid_request']);
    });

    it('PATCH merges (RFC 7396): members replace, null removes, arrays replace, the rest stays', async () => {
      const created = (await call('POST', '/clients', { json: { ...machine, contacts: ['a@example.com', 'b@example.com'], client_uri: 'https://svc.example', access_token_lifetime: 90 } })).body as Json;
      const patch = { client_name: 'Patched', client_uri: null, contacts: ['c@example.com'], access_token_lifetime: null, expires_at: 4_000_000_000 };
      const res = await call('PATCH', `/clients/${created.client_id}`, { body: JSON.stringify(patch), headers: { 'content-type': 'application/merge-patch+json' } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ client_name: 'Patched', contacts: ['c@example.com'], scope: 'openid profile', access_token_lifetime: server.config.tokens.lifetimeSeconds, expires_at: 4_000_000_000 });
      expect(res.body).not.toHaveProperty('client_uri');
      const asJson = await call('PATCH', `/clients/${created.client_id}`, { json: { client_name: 'x' } });
      expect([asJson.status, asJson.body.error, asJson.body.error_description]).toEqual([415, 'unsupported_media_type', 'the request body must be sent as application/merge-patch+json']);
      const invalid = await call('PATCH', `/clients/${created.client_id}`, { body: JSON.stringify({ grant_types: ['implicit'] }), headers: { 'content-type': 'application/merge-patch+json' } });
      expect([invalid.status, invalid.body.error]).toEqual([400, 'invalid_client_metadata']);
      expect((await call('GET', `/clients/${created.client_id}`)).body.client_name).toBe('Patched');
    });

    it('disable stops authentication and self-management at once; enable restores both', async () => {
      const created = (await call('POST', '/clients', { json: machine })).body as Json;
      expect((await call('POST', `/clients/${created.client_id}/disable`)).body.disabled).toBe(true);
      const refused = await tokenFor(created);
      expect([refused.status, refused.body.error]).toEqual([401, 'invalid_client']);
      expect((await request(server, 'GET', `/register/${created.client_id}`, { token: created.registration_access_token })).status).toBe(401);
      expect((await call('POST', `/clients/${created.client_id}/enable`)).body.disabled).toBe(false);
      expect((await tokenFor(created)).status).toBe(200);
      expect((await request(server, 'GET', `/register/${created.client_id}`, { token: created.registration_access_token })).status).toBe(200);
    });

    it('a client past expires_at stops authenticating', async () => {
      const created = (await call('POST', '/clients', { json: { ...machine, expires_at: Math.floor(Date.now() / 1000) - 1 } })).body as Json;
      expect([(await tokenFor(created)).status, (await tokenFor(created)).body.error]).toEqual([401, 'invalid_client']);
      await call('PATCH', `/clients/${created.client_id}`, { body: '{"expires_at": null}', headers: { 'content-type': 'application/merge-patch+json' } });
      expect((await tokenFor(created)).status).toBe(200);
    });

    it('rotate-secret: the new secret once; without a grace period the old one stops at once', async () => {
      const created = (await call('POST', '/clients', { json: machine })).body as Json;
      const rotated = (await call('POST', `/clients/${created.client_id}/rotate-secret`)).body as Json;
      expect(rotated.client_secret).not.toBe(created.client_secret);
      expect((await tokenFor(created, rotated.client_secret)).status).toBe(200);
      expect((await tokenFor(created)).status).toBe(401);
      expect((await call('GET', `/clients/${created.client_id}`)).body).not.toHaveProperty('client_secret');
    });

    it('rotate-secret with a grace period: both secrets work until it ends', async () => {
      const created = (await call('POST', '/clients', { json: { ...machine, token_endpoint_auth_method: 'client_secret_post' } })).body as Json;
      const rotated = (await call('POST', `/clients/${created.client_id}/rotate-secret`, { json: { grace_period: 2 } })).body as Json;
      const post = (secret: string) => postForm(server, '/token', { grant_type: 'client_credentials', client_id: created.client_id, client_secret: secret });
      expect((await post(created.client_secret)).status).toBe(200);
      expect((await post(rotated.client_secret)).status).toBe(200);
      advanceWallClock(2_100);
      expect((await post(created.client_secret)).status).toBe(401);
      expect((await post(rotated.client_secret)).status).toBe(200);
      const bad = await call('POST', `/clients/${created.client_id}/rotate-secret`, { json: { grace_period: -1 } });
      expect([bad.status, bad.body.error]).toEqual([400, 'invalid_request']);
      const none = (await call('POST', '/clients', { json: { redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'none' } })).body as Json;
      const noSecret = await call('POST', `/clients/${none.client_id}/rotate-secret`);
      expect([noSecret.status, noSecret.body.error_description]).toEqual([400, 'the client has no secret to rotate: it authenticates with none']);
    });

    it('actions take no body: an empty one sent as application/json is no body, a bad one is refused', async () => {
      const created = (await call('POST', '/clients', { json: machine })).body as Json;
      for (const action of ['disable', 'enable', 'rotate-registration-token']) {
        const res = await call('POST', `/clients/${created.client_id}/${action}`, { body: '', headers: { 'content-type': 'application/json' } });
        expect(res.status, action).toBe(200);
      }
      expect((await call('POST', '/keys/rotate', { body: '', headers: { 'content-type': 'application/json' } })).status).toBe(201);
      const notJson = await call('POST', `/clients/${created.client_id}/disable`, { body: '{', headers: { 'content-type': 'application/json' } });
      expect([notJson.status, notJson.body.error]).toEqual([400, 'invalid_request']);
      // registration still needs its body
      const empty = await request(server, 'POST', '/register', { body: '', headers: { 'content-type': 'application/json' } });
      expect([empty.status, empty.body.error]).toEqual([400, 'invalid_request']);
    });

    it('rotate-registration-token: the old token stops, the new one manages the client', async () => {
      const created = (await call('POST', '/clients', { json: machine })).body as Json;
      const rotated = (await call('POST', `/clients/${created.client_id}/rotate-registration-token`)).body as Json;
      expect((await request(server, 'GET', `/register/${created.client_id}`, { token: created.registration_access_token })).status).toBe(401);
      expect((await request(server, 'GET', `/register/${created.client_id}`, { token: rotated.registration_access_token })).status).toBe(200);
    });

    it('delete: 204, then the client is gone everywhere; unknown ids are 404', async () => {
      const created = (await call('POST', '/clients', { json: machine })).body as Json;
      expect((await call('DELETE', `/clients/${created.client_id}`)).status).toBe(204);
      expect((await call('GET', `/clients/${created.client_id}`)).status).toBe(404);
      expect((await call('DELETE', `/clients/${created.client_id}`)).status).toBe(404);
      expect((await tokenFor(created)).status).toBe(401);
      for (const [method, path] of [['GET', '/clients/nope'], ['POST', '/clients/AAAAAAAAAAAAAAAAAAAAAAAA/enable'], ['PATCH', '/clients/AAAAAAAAAAAAAAAAAAAAAAAA']] as const) {
        const res = await call(method, path, method === 'PATCH' ? { body: '{}', headers: { 'content-type': 'application/merge-patch+json' } } : {});
        expect([res.status, res.body.error]).toEqual([404, 'not_found']);
      }
    });

    it('a resource server (operator setting) introspects any token; other clients only their own', async () => {
      const owner = (await call('POST', '/clients', { json: { ...machine, access_token_format: 'reference' } })).body as Json;
      const rs = (await call('POST', '/clients', { json: { ...machine, resource_server: true } })).body as Json;
      const bystander = (await call('POST', '/clients', { json: machine })).body as Json;
      expect(rs.resource_server).toBe(true);
      const issued = (await tokenFor(owner)).body.access_token as string;
      const asRs = await postForm(server, '/introspect', { token: issued }, { authorization: basic(rs.client_id, rs.client_secret) });
      expect(asRs.body).toMatchObject({ active: true, client_id: owner.client_id });
      const asBystander = await postForm(server, '/introspect', { token: issued }, { authorization: basic(bystander.client_id, bystander.client_secret) });
      expect(asBystander.body).toEqual({ active: false });
      // a resource server cannot revoke what is not its own
      await postForm(server, '/revoke', { token: issued }, { authorization: basic(rs.client_id, rs.client_secret) });
      expect((await postForm(server, '/introspect', { token: issued }, { authorization: basic(rs.client_id, rs.client_secret) })).body.active).toBe(true);
      // nor can a dynamic registration make itself one
      const dynamic = await request(server, 'POST', '/register', { json: { ...machine, resource_server: true } });
      expect((await call('GET', `/clients/${dynamic.body.client_id}`)).body.resource_server).toBe(false);
    });

    it('reference access tokens: opaque, active through introspection, gone when revoked', async () => {
      const created = (await call('POST', '/clients', { json: { ...machine, access_token_format: 'reference', access_token_lifetime: 100 } })).body as Json;
      const issued = (await tokenFor(created)).body;
      expect(issued.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(issued.expires_in).toBe(100);
      const auth = { authorization: basic(created.client_id, created.client_secret) };
      const active = (await postForm(server, '/introspect', { token: issued.access_token }, auth)).body;
      expect(active).toMatchObject({ active: true, client_id: created.client_id, scope: 'openid profile' });
      expect(active.exp - active.iat).toBe(100);
      // the token is stored as a hash only
      const stored = await server.db.query<{ claims: unknown }>('SELECT claims FROM reference_tokens WHERE client_id = $1', [created.client_id]);
      expect(JSON.stringify(stored)).not.toContain(issued.access_token);
      expect((await postForm(server, '/revoke', { token: issued.access_token }, auth)).status).toBe(200);
      expect((await postForm(server, '/introspect', { token: issued.access_token }, auth)).body).toEqual({ active: false });
    });
  });

  describe('the list', () => {
    const base = 1_500_000_000;
    beforeAll(async () => {
      // 2,500 clients by SQL, three to a second so that pages split ties
      await server.db.query(
        `INSERT INTO clients (client_id, metadata, registration_token_hash, client_id_issued_at, disabled, expires_at)
         SELECT 'bulk' || lpad(i::text, 12, '0'),
                jsonb_build_object('client_name', 'Bulk ' || i, 'token_endpoint_auth_method', CASE WHEN i % 2 = 0 THEN 'none' ELSE 'private_key_jwt' END,
                                   'grant_types', jsonb_build_array('authorization_code'), 'redirect_uris', jsonb_build_array('https://rp.example/cb')),
                sha256(i::text::bytea), $1 + i / 3, i % 10 = 0, CASE WHEN i % 7 = 0 THEN $1::bigint ELSE NULL END
           FROM generate_series(1, 2500) AS i`,
        [base],
      );
    });

    const page = async (query: string) => (await call('GET', `/clients?${query}`)).body as { clients: Json[]; next_cursor: string | null };
    const all = async (query: string) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const next: { clients: Json[]; next_cursor: string | null } = await page(`${query}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        ids.push(...next.clients.map((c) => c.client_id as string));
        cursor = next.next_cursor;
      } while (cursor);
      return ids;
    };

    it('pages through thousands of clients, newest first, each once', async () => {
      const ids = await all(`created_before=${base + 10_000}`);
      expect(ids).toHaveLength(2500);
      expect(new Set(ids).size).toBe(2500);
      expect(ids[0]).toBe('bulk000000002500');
      expect(ids.at(-1)).toBe('bulk000000000001');
    });

    it('filters: text, auth method, disabled, expired, created range', async () => {
      expect((await page('q=bulk%20250&limit=200')).clients.map((c) => c.client_name).sort()).toEqual(['Bulk 250', 'Bulk 2500']);
      expect((await page('q=000000001234')).clients.map((c) => c.client_id)).toEqual(['bulk000000001234']);
      expect((await page('q=100%25')).clients).toEqual([]); // % is a character here, not a wildcard
      expect((await page('q=BULK%2042&limit=5')).clients[0]!.client_name).toMatch(/^Bulk 42/);
      expect(await all(`auth_method=none&created_before=${base + 10_000}`)).toHaveLength(1250);
      expect(await all(`disabled=true&created_before=${base + 10_000}`)).toHaveLength(250);
      expect(await all(`expired=true&created_before=${base + 10_000}`)).toHaveLength(Math.floor(2500 / 7));
      expect(await all(`expired=false&disabled=false&created_before=${base + 10_000}`)).toHaveLength(2500 - 250 - Math.floor(2500 / 7) + Math.floor(2500 / 70));
      expect(await all(`created_after=${base + 100}&created_before=${base + 200}`)).toHaveLength(300);
    });

    it('refuses what it does not understand', async () => {
      for (const query of ['limit=0', 'limit=201', 'limit=ten', 'cursor=bogus', 'disabled=yes', 'created_after=yesterday', 'auth_method=magic', 'sort=name', 'q=a&q=b', 'limit=1&limit=2', 'disabled=true&disabled=true']) {
        const res = await call('GET', `/clients?${query}`);
        expect([res.status, res.body.error], query).toEqual([400, 'invalid_request']);
      }
      // a repeated parameter is refused by name, not read as a list (q twice was a 500)
      expect((await call('GET', '/clients?q=a&q=b')).body.error_description).toBe('query parameter q must be given once');
    });
  });

  describe('server keys', () => {
    it('lists and rotates', async () => {
      const before = (await call('GET', '/keys')).body.keys as Json[];
      // one active key per algorithm of SIGNING_KEY_ALGS
      expect(before.filter((k) => k.state === 'active').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      const added = await call('POST', '/keys/rotate', { json: { alg: 'ES256' } });
      expect(added.status).toBe(201);
      expect(added.body.keys).toEqual([expect.objectContaining({ alg: 'ES256', state: 'pending' })]);
      const after = (await call('GET', '/keys')).body.keys as Json[];
      expect(after.map((k) => k.kid)).toContain((added.body.keys as Json[])[0]!.kid);
      const readOnly = await adminToken(server, admin, 'admin:read');
      expect((await call('POST', '/keys/rotate', { token: readOnly })).status).toBe(403);
    });
  });
});
