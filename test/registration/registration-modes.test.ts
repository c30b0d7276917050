import { afterEach, describe, expect, it } from 'vitest';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { secretDueForRenewal } from '../../src/registration/client-registration.js';
import type { StoredClient } from '../../src/storage/client-repository.js';
import { basic, postForm } from '../support/client-auth.js';
import { freePort } from '../support/server-process.js';
import { advanceWallClock } from '../support/clock.js';

const rp = { redirect_uris: ['https://rp.example/cb'] };
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe(`registration modes and options (${storageKind})`, () => {
  it('rotates the registration access token on update when configured', async () => {
    server = await startTestServer({ ROTATE_REGISTRATION_ACCESS_TOKEN: 'true' });
    const client = (await request(server, 'POST', '/register', { json: rp })).body;
    const path = `/register/${client.client_id}`;
    const updated = await request(server, 'PUT', path, { token: client.registration_access_token, json: { ...rp, client_id: client.client_id } });
    expect(updated.status).toBe(200);
    const rotated = updated.body.registration_access_token;
    expect(rotated).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rotated).not.toBe(client.registration_access_token);
    expect((await request(server, 'GET', path, { token: client.registration_access_token })).status).toBe(401);
    expect((await request(server, 'GET', path, { token: rotated })).status).toBe(200);
  });

  it('requires the initial access token when one is configured', async () => {
    const initial = 'initial-access-token-that-is-long-enough-0123456789';
    server = await startTestServer({ REGISTRATION_INITIAL_ACCESS_TOKEN: initial });
    const without = await request(server, 'POST', '/register', { json: rp });
    expect(without.status).toBe(401);
    expect(without.body.error).toBe('invalid_token');
    expect(without.headers.get('www-authenticate')).toBe('Bearer'); // no credentials sent: no error code (RFC 6750 §3.1)
    const wrong = await request(server, 'POST', '/register', { json: rp, token: 'initial-access-token-that-is-long-enough-0123456780' });
    expect(wrong.status).toBe(401);
    const right = await request(server, 'POST', '/register', { json: rp, token: initial });
    expect(right.status).toBe(201);
  });

  it('gives secrets an expiry when CLIENT_SECRET_TTL is set', async () => {
    server = await startTestServer({ CLIENT_SECRET_TTL: '3600' });
    const client = (await request(server, 'POST', '/register', { json: rp })).body;
    expect(client.client_secret_expires_at - client.client_id_issued_at).toBe(3600);
  });

  it('renews an expired client secret on an RFC 7592 update, and only then', async () => {
    server = await startTestServer({ CLIENT_SECRET_TTL: '2' });
    const client = (await request(server, 'POST', '/register', { json: { grant_types: ['client_credentials'] } })).body;
    const update = () =>
      request(server!, 'PUT', `/register/${client.client_id}`, { token: client.registration_access_token, json: { client_id: client.client_id, grant_types: ['client_credentials'] } });
    const tokenWith = (secret: string) =>
      postForm(server!, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, secret) });

    const early = (await update()).body;
    expect(early.client_secret).toBe(client.client_secret); // not yet due: kept
    expect(early.client_secret_expires_at).toBe(client.client_secret_expires_at);

    advanceWallClock(2_100);
    expect((await tokenWith(client.client_secret)).status).toBe(401); // expired
    const renewed = (await update()).body;
    expect(renewed.client_secret).not.toBe(client.client_secret);
    expect(renewed.client_secret_expires_at).toBeGreaterThan(Math.floor(Date.now() / 1000));
    expect((await tokenWith(renewed.client_secret)).status).toBe(200);
    expect((await tokenWith(client.client_secret)).status).toBe(401);
  });

  it.each([
    ['no expiry', { ttl: 3600, expiresIn: null }, false],
    ['expired', { ttl: 3600, expiresIn: -1 }, true],
    ['in its last quarter', { ttl: 3600, expiresIn: 900 }, true],
    ['before its last quarter', { ttl: 3600, expiresIn: 901 }, false],
    ['TTL since turned off: within a day', { ttl: 0, expiresIn: 86_400 }, true],
    ['TTL since turned off: further off', { ttl: 0, expiresIn: 86_401 }, false],
  ])('an expiring secret is due for renewal: %s', (_name, { ttl, expiresIn }, due) => {
    const now = 1_800_000_000;
    const client = { secretExpiresAt: expiresIn === null ? 0 : now + expiresIn } as StoredClient;
    expect(secretDueForRenewal({ now: () => now, clientSecretTtlSeconds: ttl }, client)).toBe(due);
  });

  it('serves an issuer with a path under that path, and RFC 8414 discovery at the inserted well-known path', async () => {
    const port = String(await freePort());
    server = await startTestServer({ PORT: port, ISSUER: `http://127.0.0.1:${port}/tenant-a` });
    const openid = await request(server, 'GET', '/tenant-a/.well-known/openid-configuration');
    expect(openid.status).toBe(200);
    expect(openid.body.issuer).toBe(`http://127.0.0.1:${port}/tenant-a`);
    expect(openid.body.registration_endpoint).toBe(`http://127.0.0.1:${port}/tenant-a/register`);
    const oauth = await request(server, 'GET', '/.well-known/oauth-authorization-server/tenant-a');
    expect(oauth.body).toEqual(openid.body);
    const created = await request(server, 'POST', '/tenant-a/register', { json: rp });
    expect(created.status).toBe(201);
    expect(created.body.registration_client_uri).toBe(`http://127.0.0.1:${port}/tenant-a/register/${created.body.client_id}`);
    const read = await request(server, 'GET', `/tenant-a/register/${created.body.client_id}`, { token: created.body.registration_access_token });
    expect(read.status).toBe(200);
  });
});
