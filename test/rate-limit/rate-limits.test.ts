import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { DatabaseUnavailableError } from '../../src/storage/unavailable.js';
import { freePort } from '../support/server-process.js';
import { advanceWallClock } from '../support/clock.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Servers of the running test, closed when it ends (second instances first). */
let servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.reverse()) await server.close();
  servers = [];
});

async function start(env: Record<string, string>, shareDatabaseOf?: TestServer, logger?: Parameters<typeof startTestServer>[1]): Promise<TestServer> {
  const server = await startTestServer(env, logger, shareDatabaseOf);
  servers.push(server);
  return server;
}

const metadata = { redirect_uris: ['https://rp.example/cb'], client_name: 'rate-limited' };

/** POST /register from `address` (as a proxy would report it; the server must have TRUST_PROXY). */
const register = (server: TestServer, address?: string, body: unknown = metadata) =>
  request(server, 'POST', '/register', { json: body, headers: address ? { 'x-forwarded-for': address } : {} });

/** A token request without credentials: 401 while within the limit, 429 past it. */
const tokenRequest = (server: TestServer, path = '/token', address?: string) =>
  request(server, 'POST', path, {
    body: 'grant_type=client_credentials',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(address ? { 'x-forwarded-for': address } : {}) },
  });

async function storedClients(server: TestServer): Promise<number> {
  const [row] = await server.db.query<{ n: number | string }>('SELECT count(*) AS n FROM clients');
  return Number(row!.n);
}

function expectTooManyRequests(res: Awaited<ReturnType<typeof request>>, windowSeconds: number): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: 'too_many_requests', error_description: expect.stringMatching(/^too many requests; try again in \d+ s$/) });
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.headers.get('cache-control')).toBe('no-store');
  // one set of numbers cannot describe two counters: only Retry-After
  expect(res.headers.get('x-ratelimit-limit')).toBeNull();
}

describe(`registration rate limits (${storageKind})`, () => {
  it('per address: N registrations pass, the next is 429 with Retry-After and nothing is stored', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '3/minute' });
    for (let i = 0; i < 3; i++) expect((await register(server)).status).toBe(201);
    const refused = await register(server, undefined, { ...metadata, client_name: 'over the limit' });
    expectTooManyRequests(refused, 60);
    expect(await storedClients(server)).toBe(3);
  });

  it('the limit is checked before the body is read: a malformed body over the limit is 429, not 400', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute' });
    expect((await request(server, 'POST', '/register', { body: '{not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await request(server, 'POST', '/register', { body: '{not json', headers: { 'content-type': 'application/json' } })).status).toBe(429);
  });

  it('guards POST /register only: the client configuration endpoint still answers', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute' });
    const client = (await register(server)).body;
    expect((await register(server)).status).toBe(429);
    const read = await request(server, 'GET', `/register/${client.client_id}`, { token: client.registration_access_token });
    expect(read.status).toBe(200);
    expect((await request(server, 'GET', '/.well-known/openid-configuration')).status).toBe(200);
  });

  it('guards the registration endpoint under an issuer with a path', async () => {
    const server = await start({ ISSUER: 'https://id.example/tenant', RATE_LIMIT_REGISTER: '1/minute' });
    expect((await request(server, 'POST', '/tenant/register', { json: metadata })).status).toBe(201);
    expect((await request(server, 'POST', '/tenant/register', { json: metadata })).status).toBe(429);
  });

  it('counts per address as TRUST_PROXY reports it: another address has its own count', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute', TRUST_PROXY: 'true' });
    expect((await register(server, '198.51.100.1')).status).toBe(201);
    expect((await register(server, '198.51.100.1')).status).toBe(429);
    expect((await register(server, '198.51.100.2')).status).toBe(201);
  });

  it('TRUST_PROXY as the proxy addresses: a caller cannot pick its address by prefixing X-Forwarded-For', async () => {
    // the test client at 127.0.0.1 plays the proxy, which appends the address it saw
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute', TRUST_PROXY: '127.0.0.1,::1' });
    expect((await register(server, '6.6.6.6, 203.0.113.9')).status).toBe(201);
    // another forged first hop: still the address the proxy vouches for, still counted
    expect((await register(server, '7.7.7.7, 203.0.113.9')).status).toBe(429);
    expect((await register(server, '203.0.113.10')).status).toBe(201);
  });

  it('without TRUST_PROXY, X-Forwarded-For does not buy a new count', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute' });
    expect((await register(server, '198.51.100.1')).status).toBe(201);
    expect((await register(server, '198.51.100.2')).status).toBe(429);
  });

  it('an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute', TRUST_PROXY: 'true' });
    expect((await register(server, '::ffff:198.51.100.9')).status).toBe(201);
    expect((await register(server, '198.51.100.9')).status).toBe(429);
  });

  it('the global ceiling holds across different addresses, with one warning a window', async () => {
    let logged = '';
    const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => void ((logged += chunk.toString()), done()) });
    const server = await start({ RATE_LIMIT_REGISTER: '5/minute', RATE_LIMIT_REGISTER_GLOBAL: '3/minute', TRUST_PROXY: 'true' }, undefined, createLogger('info', stream));
    for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) expect((await register(server, address)).status).toBe(201);
    expectTooManyRequests(await register(server, '203.0.113.4'), 60);
    expect((await register(server, '203.0.113.5')).status).toBe(429);
    expect(await storedClients(server)).toBe(3);
    const warnings = logged.split('\n').filter((line) => line.includes('global registration ceiling reached'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, limit: 'RATE_LIMIT_REGISTER_GLOBAL', rate: '3/minute' });
  });

  it('a database out of reach while counting is 503 temporarily_unavailable, not 500 and not a pass', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '5/minute' });
    const failing = vi.spyOn(server.db, 'query').mockRejectedValue(new DatabaseUnavailableError('ECONNREFUSED'));
    try {
      const res = await register(server);
      expect([res.status, res.body.error]).toEqual([503, 'temporarily_unavailable']);
    } finally {
      failing.mockRestore();
    }
    expect(await storedClients(server)).toBe(0);
  });

  it('requests an address makes past its own limit do not use up the global ceiling', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '2/minute', RATE_LIMIT_REGISTER_GLOBAL: '4/minute', TRUST_PROXY: 'true' });
    const flood = [];
    for (let i = 0; i < 6; i++) flood.push((await register(server, '203.0.113.66')).status);
    expect(flood).toEqual([201, 201, 429, 429, 429, 429]);
    expect((await register(server, '203.0.113.7')).status).toBe(201);
    expect((await register(server, '203.0.113.8')).status).toBe(201);
    // now the ceiling (4) is reached
    expect((await register(server, '203.0.113.9')).status).toBe(429);
  });

  it('the allow-list (IPv4 and IPv6 CIDRs) is exempt from every limit, and only it', async () => {
    const server = await start({
      RATE_LIMIT_REGISTER: '1/minute',
      RATE_LIMIT_REGISTER_GLOBAL: '3/minute',
      TRUST_PROXY: 'true',
      RATE_LIMIT_ALLOW_LIST: '192.0.2.0/24, 2001:db8::/32',
    });
    for (let i = 0; i < 4; i++) expect((await register(server, `192.0.2.${i + 1}`)).status).toBe(201);
    for (let i = 0; i < 4; i++) expect((await register(server, '2001:db8:7::1')).status).toBe(201);
    // not listed: limited as usual (and the listed ones above did not count toward the ceiling)
    expect((await register(server, '2001:db9::1')).status).toBe(201);
    expect((await register(server, '2001:db9::1')).status).toBe(429);
    expect((await register(server, '198.51.100.4')).status).toBe(201);
    expect((await register(server, '198.51.100.4')).status).toBe(429);
  });

  it('a new window starts when the old one ends', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '2/minute' });
    expect((await register(server)).status).toBe(201);
    expect((await register(server)).status).toBe(201);
    expect((await register(server)).status).toBe(429);
    advanceWallClock(61_000);
    expect((await register(server)).status).toBe(201);
  });

  it('off turns the limits off', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: 'off', RATE_LIMIT_REGISTER_GLOBAL: 'off' });
    for (let i = 0; i < 25; i++) expect((await register(server)).status).toBe(201);
    expect(await server.db.query('SELECT key FROM rate_limit_counters')).toEqual([]);
  });

  it('two instances on one database share the counters', async () => {
    const a = await start({ RATE_LIMIT_REGISTER: '3/minute' });
    const b = await start({ RATE_LIMIT_REGISTER: '3/minute' }, a);
    expect((await register(a)).status).toBe(201);
    expect((await register(b)).status).toBe(201);
    expect((await register(a)).status).toBe(201);
    expect((await register(b)).status).toBe(429);
    expect((await register(a)).status).toBe(429);
  });

  it('of concurrent registrations over the limit, exactly the limit pass', async () => {
    const a = await start({ RATE_LIMIT_REGISTER: '5/minute' });
    const b = await start({ RATE_LIMIT_REGISTER: '5/minute' }, a);
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => register(i % 2 ? a : b).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('a browser can read the 429 of POST /register and its Retry-After', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/minute' });
    const headers = { origin: 'https://app.example' };
    expect((await request(server, 'POST', '/register', { json: metadata, headers })).status).toBe(201);
    const refused = await request(server, 'POST', '/register', { json: metadata, headers });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect(refused.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('retry-after');
  });

  it('expired counters are purged', async () => {
    const server = await start({ RATE_LIMIT_REGISTER: '1/second', RATE_LIMIT_REGISTER_GLOBAL: '10/second' });
    expect((await register(server)).status).toBe(201);
    const { RateLimitRepository } = await import('../../src/storage/rate-limit-repository.js');
    const repository = new RateLimitRepository(server.db);
    expect(await repository.purgeExpired(Date.now())).toBe(0);
    expect(await repository.purgeExpired(Date.now() + 1_001)).toBe(2);
    expect(await server.db.query('SELECT key FROM rate_limit_counters')).toEqual([]);
  });
});

describe(`token-endpoint rate limits (${storageKind})`, () => {
  it('per address across token, introspection and revocation; no database write', async () => {
    const server = await start({ RATE_LIMIT_TOKEN: '3/minute', TRUST_PROXY: 'true' });
    expect((await tokenRequest(server, '/token', '198.51.100.1')).status).toBe(401);
    expect((await tokenRequest(server, '/introspect', '198.51.100.1')).status).toBe(401);
    expect((await tokenRequest(server, '/revoke', '198.51.100.1')).status).toBe(401);
    for (const path of ['/token', '/introspect', '/revoke']) expectTooManyRequests(await tokenRequest(server, path, '198.51.100.1'), 60);
    expect((await tokenRequest(server, '/token', '198.51.100.2')).status).toBe(401);
    expect(await server.db.query('SELECT key FROM rate_limit_counters')).toEqual([]);
  });

  it('the allow-list exempts token requests too', async () => {
    const server = await start({ RATE_LIMIT_TOKEN: '1/minute', TRUST_PROXY: 'true', RATE_LIMIT_ALLOW_LIST: '2001:db8::/32' });
    for (let i = 0; i < 3; i++) expect((await tokenRequest(server, '/token', '2001:db8::5')).status).toBe(401);
    expect((await tokenRequest(server, '/token', '2001:db9::5')).status).toBe(401);
    expect((await tokenRequest(server, '/token', '2001:db9::5')).status).toBe(429);
  });

  it('a new window starts when the old one ends (in memory)', async () => {
    const server = await start({ RATE_LIMIT_TOKEN: '1/minute' });
    expect((await tokenRequest(server)).status).toBe(401);
    expect((await tokenRequest(server)).status).toBe(429);
    advanceWallClock(61_000);
    expect((await tokenRequest(server)).status).toBe(401);
  });

  it('off turns the limit off', async () => {
    const server = await start({ RATE_LIMIT_TOKEN: 'off' });
    for (let i = 0; i < 10; i++) expect((await tokenRequest(server)).status).toBe(401);
  });

  it('without REDIS_URL each instance counts on its own', async () => {
    const issuer = `https://id-${randomBytes(4).toString('hex')}.example`;
    const a = await start({ ISSUER: issuer, RATE_LIMIT_TOKEN: '1/minute' });
    const b = await start({ ISSUER: issuer, RATE_LIMIT_TOKEN: '1/minute' }, a);
    expect((await tokenRequest(a)).status).toBe(401);
    expect((await tokenRequest(b)).status).toBe(401);
    expect((await tokenRequest(a)).status).toBe(429);
  });

  it('with REDIS_URL two instances share the counters', async () => {
    // a fresh issuer: its Redis keys are this test's alone
    const issuer = `https://id-${randomBytes(4).toString('hex')}.example`;
    const a = await start({ ISSUER: issuer, RATE_LIMIT_TOKEN: '3/minute', REDIS_URL });
    const b = await start({ ISSUER: issuer, RATE_LIMIT_TOKEN: '3/minute', REDIS_URL }, a);
    await new Promise((resolve) => setTimeout(resolve, 200)); // both connected
    expect((await tokenRequest(a)).status).toBe(401);
    expect((await tokenRequest(b)).status).toBe(401);
    expect((await tokenRequest(a)).status).toBe(401);
    expectTooManyRequests(await tokenRequest(b), 60);
    expect((await tokenRequest(a)).status).toBe(429);
  });

  it('Redis down: token requests pass (fail open) and a warning is logged', async () => {
    let logged = '';
    const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => void ((logged += chunk.toString()), done()) });
    const closed = await freePort();
    const server = await start({ RATE_LIMIT_TOKEN: '1/minute', REDIS_URL: `redis://:hunter2-password@127.0.0.1:${closed}` }, undefined, createLogger('info', stream));
    const started = Date.now();
    for (let i = 0; i < 3; i++) expect((await tokenRequest(server)).status).toBe(401);
    expect(Date.now() - started).toBeLessThan(3_000);
    const warnings = logged.split('\n').filter((line) => line.includes('Redis is unavailable'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40 });
    expect(logged).not.toContain('hunter2-password');
  });
});
