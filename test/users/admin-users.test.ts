import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { USER_CLAIM_NAMES } from '../../src/users/claims.js';
import { verifyPassword } from '../../src/users/password.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'alice-first-password';
const NEW_PASSWORD = 'alice-second-password';
const MERGE_PATCH = { 'content-type': 'application/merge-patch+json' };

describe(`users through the admin API (${storageKind})`, () => {
  let server: TestServer;
  let token: string;
  let logs = '';
  const admin = (method: string, path: string, options: { json?: unknown; body?: string; headers?: Record<string, string> } = {}) =>
    request(server, method, `/admin${path}`, { token, ...options });
  const patch = (id: string, body: unknown) => admin('PATCH', `/users/${id}`, { body: JSON.stringify(body), headers: MERGE_PATCH });
  const create = async (body: Record<string, unknown>) => {
    const res = await admin('POST', '/users', { json: body });
    expect(res.status, res.text).toBe(201);
    return res.body as Record<string, any>;
  };
  /** Every answer of the test, to be scanned for passwords and hashes at the end. */
  const answers: string[] = [];

  beforeAll(async () => {
    const logger = createLogger('debug', new Writable({ write: (chunk: Buffer, _encoding, done) => ((logs += chunk.toString()), done()) }));
    server = await startTestServer({}, logger);
    token = await adminToken(server, await bootstrapAdmin(server));
  });
  afterAll(async () => server?.close());

  it('creates a user with claims; the answer has a random id, the claims, and never the password or its hash', async () => {
    const res = await admin('POST', '/users', {
      json: {
        username: 'Alice',
        password: PASSWORD,
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice Liddell',
        given_name: 'Alice',
        family_name: 'Liddell',
        birthdate: '1852-05-04',
        zoneinfo: 'Europe/London',
        locale: 'en-GB',
        phone_number: '+441234567890',
        website: 'https://alice.example',
        address: { locality: 'Oxford', country: 'UK' },
      },
    });
    answers.push(res.text);
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers.get('location')).toBe(`${server.url}/admin/users/${res.body.id}`);
    expect(res.body).toMatchObject({ username: 'Alice', email: 'alice@example.com', email_verified: true, phone_number_verified: false, disabled: false, address: { locality: 'Oxford', country: 'UK' } });
    expect(Object.keys(res.body).filter((name) => /password|hash/.test(name) && name !== 'phone_number_verified')).toEqual([]);
    const [row] = await server.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [res.body.id]);
    expect(row!.password_hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(await verifyPassword(PASSWORD, row!.password_hash)).toBe(true);
  });

  it('refuses a username taken in any case with 409 conflict', async () => {
    for (const username of ['alice', 'ALICE', 'Alice']) {
      const res = await admin('POST', '/users', { json: { username, password: PASSWORD } });
      expect([res.status, res.body.error], username).toEqual([409, 'conflict']);
    }
  });

  it.each([
    [{ username: 'bob', password: PASSWORD, email: 'not-an-address' }, 'email'],
    [{ username: 'bob', password: PASSWORD, email_verified: 'yes' }, 'email_verified'],
    [{ username: 'bob', password: PASSWORD, picture: 'javascript:alert(1)' }, 'picture'],
    [{ username: 'bob', password: PASSWORD, birthdate: '4 May 1852' }, 'birthdate'],
    [{ username: 'bob', password: PASSWORD, phone_number: '01234 567' }, 'phone_number'],
    [{ username: 'bob', password: PASSWORD, locale: 'english please' }, 'locale'],
    [{ username: 'bob', password: PASSWORD, name: '' }, 'name'],
    [{ username: 'bob', password: PASSWORD, name: 'x'.repeat(201) }, 'name'],
    [{ username: 'bob', password: PASSWORD, name: 'nul\u0000' }, 'name'],
    [{ username: 'bob', password: PASSWORD, address: { planet: 'Earth' } }, 'address'],
    [{ username: 'bob', password: PASSWORD, address: 'Oxford' }, 'address'],
    [{ username: 'bob', password: PASSWORD, shoe_size: 42 }, 'shoe_size'],
    [{ username: 'bob', password: PASSWORD, sub: 'bob' }, 'sub'],
    [{ username: 'bo b', password: PASSWORD }, 'username'],
    [{ username: '-bob', password: PASSWORD }, 'username'],
    [{ username: 'b'.repeat(65), password: PASSWORD }, 'username'],
    [{ password: PASSWORD }, 'username'],
    [{ username: 'bob' }, 'password'],
    [{ username: 'bob', password: 'short' }, 'password'],
    [{ username: 'bob', password: 'x'.repeat(1025) }, 'password'],
  ])('refuses a body with a bad %# (invalid_request naming the field)', async (body, field) => {
    const res = await admin('POST', '/users', { json: body });
    answers.push(res.text);
    expect([res.status, res.body.error], res.text).toEqual([400, 'invalid_request']);
    expect(res.body.error_description).toContain(field);
  });

  it('reads, lists with q, disabled and cursor paging', async () => {
    const carol = await create({ username: 'carol', password: PASSWORD, email: 'carol@example.org', name: 'Carol Singer' });
    const dave = await create({ username: 'dave', password: PASSWORD });
    const read = await admin('GET', `/users/${carol.id}`);
    answers.push(read.text);
    expect(read.body).toEqual(carol);
    const first = await admin('GET', '/users?limit=2');
    answers.push(first.text);
    expect(first.body.users).toHaveLength(2);
    const second = await admin('GET', `/users?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.next_cursor).toBeNull();
    // newest first; users of one second are ordered by id: each on one page only
    const names = [...first.body.users, ...second.body.users].map((u: { username: string }) => u.username);
    expect(names.sort()).toEqual(['Alice', 'carol', 'dave']);
    for (const [q, expected] of [['SINGER', ['carol']], ['example.org', ['carol']], ['ali', ['Alice']], ['%', []], ['nobody', []]] as const) {
      expect((await admin('GET', `/users?q=${encodeURIComponent(q)}`)).body.users.map((u: { username: string }) => u.username), q).toEqual(expected);
    }
    for (const query of ['limit=0', 'cursor=bogus', 'disabled=maybe', 'sort=name', 'q=a&q=b']) {
      const res = await admin('GET', `/users?${query}`);
      expect([res.status, res.body.error], query).toEqual([400, 'invalid_request']);
    }
    for (const id of ['0123456789abcdef0123456789abcdef', 'not-an-id']) {
      const res = await admin('GET', `/users/${id}`);
      expect([res.status, res.body.error]).toEqual([404, 'not_found']);
    }
    expect((await admin('DELETE', `/users/${dave.id}`)).status).toBe(204);
  });

  it('patches username and claims (RFC 7396: null removes), refusing bad values, the password and a taken name', async () => {
    const bob = await create({ username: 'bob', password: PASSWORD, name: 'Bob', phone_number: '+15551234567', phone_number_verified: true, address: { locality: 'Paris', country: 'FR' } });
    const res = await patch(bob.id, { username: 'Robert', name: null, nickname: 'Bobby', phone_number_verified: null, address: { locality: 'Lyon' } });
    answers.push(res.text);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ id: bob.id, username: 'Robert', nickname: 'Bobby', phone_number_verified: false, address: { locality: 'Lyon', country: 'FR' } });
    expect(res.body).not.toHaveProperty('name');
    for (const [body, status, error, named] of [
      [{ email: 'nope' }, 400, 'invalid_request', 'email'],
      [{ username: null }, 400, 'invalid_request', 'username'],
      [{ password: NEW_PASSWORD }, 400, 'invalid_request', 'set-password'],
      [{ disabled: true }, 400, 'invalid_request', 'disabled'],
      [{ favourite_colour: 'blue' }, 400, 'invalid_request', 'favourite_colour'],
      [['not', 'an', 'object'], 400, 'invalid_request', 'object'],
      [{ username: 'ALICE' }, 409, 'conflict', 'ALICE'],
    ] as const) {
      const refused = await patch(bob.id, body);
      expect([refused.status, refused.body.error], JSON.stringify(body)).toEqual([status, error]);
      expect(refused.body.error_description).toContain(named);
    }
    const asJson = await admin('PATCH', `/users/${bob.id}`, { json: { name: 'x' } });
    expect([asJson.status, asJson.body.error]).toEqual([415, 'unsupported_media_type']);
    expect((await patch('0123456789abcdef0123456789abcdef', { name: 'x' })).status).toBe(404);
    // a change of case of one's own name is no conflict
    expect((await patch(bob.id, { username: 'robert' })).body.username).toBe('robert');
  });

  it('disables and enables, sets the password, and deletes', async () => {
    const erin = await create({ username: 'erin', password: PASSWORD });
    const disabled = await admin('POST', `/users/${erin.id}/disable`);
    expect([disabled.status, disabled.body.disabled]).toEqual([200, true]);
    expect((await admin('GET', '/users?disabled=true')).body.users.map((u: { username: string }) => u.username)).toEqual(['erin']);
    const enabled = await admin('POST', `/users/${erin.id}/enable`, { json: {} });
    expect([enabled.status, enabled.body.disabled]).toEqual([200, false]);

    const set = await admin('POST', `/users/${erin.id}/set-password`, { json: { password: NEW_PASSWORD } });
    answers.push(set.text);
    expect(set.status, set.text).toBe(200);
    expect(set.body.updated_at).toBeGreaterThanOrEqual(erin.updated_at);
    const [row] = await server.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [erin.id]);
    expect(await verifyPassword(NEW_PASSWORD, row!.password_hash)).toBe(true);
    expect(await verifyPassword(PASSWORD, row!.password_hash)).toBe(false);
    for (const body of [{ password: 'short' }, {}, { password: NEW_PASSWORD, username: 'x' }, ['x']]) {
      const res = await admin('POST', `/users/${erin.id}/set-password`, { json: body });
      expect([res.status, res.body.error], JSON.stringify(body)).toEqual([400, 'invalid_request']);
    }
    expect((await admin('POST', '/users/0123456789abcdef0123456789abcdef/set-password', { json: { password: NEW_PASSWORD } })).status).toBe(404);

    expect((await admin('DELETE', `/users/${erin.id}`)).status).toBe(204);
    expect((await admin('GET', `/users/${erin.id}`)).status).toBe(404);
    expect((await admin('DELETE', `/users/${erin.id}`)).status).toBe(404);
    expect((await admin('POST', `/users/${erin.id}/disable`)).status).toBe(404);
  });

  it('records each change in the audit trail with the names of what changed, never a password or a hash', async () => {
    const entries = (await admin('GET', '/audit?limit=200')).body.entries as { action: string; changed_fields: string[]; details: Record<string, unknown> }[];
    const users = entries.filter((entry) => entry.action.startsWith('user.'));
    expect(new Set(users.map((entry) => entry.action))).toEqual(new Set(['user.create', 'user.update', 'user.delete', 'user.disable', 'user.enable', 'user.set_password']));
    const create = users.find((entry) => entry.action === 'user.create' && entry.details.username === 'Alice')!;
    expect(create.changed_fields).toEqual(expect.arrayContaining(['username', 'email', 'email_verified', 'name', 'address', 'password']));
    expect(create.details.user_id).toMatch(/^[0-9a-f]{32}$/);
    const update = users.find((entry) => entry.action === 'user.update' && entry.details.username === 'Robert')!;
    expect(update.changed_fields.sort()).toEqual(['address', 'name', 'nickname', 'phone_number_verified', 'username']);
    expect(users.find((entry) => entry.action === 'user.set_password')!.changed_fields).toEqual(['password']);
    expect(users.find((entry) => entry.action === 'user.disable')!.changed_fields).toEqual(['disabled']);
    const trail = JSON.stringify(await server.db.query('SELECT * FROM audit_entries'));
    for (const secret of [PASSWORD, NEW_PASSWORD, '$scrypt$']) expect(trail).not.toContain(secret);
  });

  it('never shows a password or its hash in any answer or log line', async () => {
    const hashes = (await server.db.query<{ password_hash: string }>('SELECT password_hash FROM users')).map((row) => row.password_hash.split('$').at(-1)!);
    expect(hashes.length).toBeGreaterThan(0);
    expect(logs).toContain('user created by an operator');
    for (const text of [...answers, logs]) {
      for (const secret of [PASSWORD, NEW_PASSWORD, '$scrypt$', ...hashes]) expect(text).not.toContain(secret);
    }
    expect(USER_CLAIM_NAMES).not.toContain('password');
  });
});
