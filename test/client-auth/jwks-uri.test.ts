import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJson, guardedLookup, OutboundError, type OutboundPolicy } from '../../src/outbound/fetch-json.js';
import { RemoteJwksCache } from '../../src/client-auth/remote-jwks.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { assertion, assertionParams, keyPair, postForm, type KeyPair } from '../support/client-auth.js';
import { KeyServer } from '../support/key-server.js';

describe(`jwks_uri client keys (${storageKind})`, () => {
  let keys: KeyServer;
  let server: TestServer;
  let first: KeyPair;
  let client: Record<string, any>;

  beforeAll(async () => {
    keys = await new KeyServer().start();
    server = await startTestServer({ OUTBOUND_ALLOWED_HOSTS: keys.host });
    first = await keyPair('ES256', 'first');
    keys.body = { keys: [first.publicJwk] };
    keys.headers = { 'content-type': 'application/json', 'cache-control': 'max-age=3600' };
    const res = await request(server, 'POST', '/register', {
      json: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: keys.url() },
    });
    expect(res.status).toBe(201);
    client = res.body;
  });
  afterAll(async () => {
    await server.close();
    await keys.stop();
  });

  const signWith = (key: KeyPair) =>
    assertion({ clientId: client.client_id, audience: server.config.issuer, key: key.privateKey, alg: key.alg, kid: key.kid });

  it('fetches the keys once and shares the fetch between concurrent requests', async () => {
    keys.hits = 0;
    const results = await Promise.all(Array.from({ length: 10 }, async () => postForm(server, '/token', assertionParams(await signWith(first)))));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(keys.hits).toBe(1);
    expect((await postForm(server, '/token', assertionParams(await signWith(first)))).status).toBe(200);
    expect(keys.hits).toBe(1); // cached: max-age=3600
  });

  it('picks up a rotated key (new kid) by fetching again, once per cool-down', async () => {
    const second = await keyPair('ES256', 'second');
    keys.body = { keys: [first.publicJwk, second.publicJwk] };
    const before = keys.hits;
    expect((await postForm(server, '/token', assertionParams(await signWith(second)))).status).toBe(200);
    expect(keys.hits).toBe(before + 1);
    // a kid that is still unknown right after a refetch does not trigger another one
    const third = await keyPair('ES256', 'third');
    expect((await postForm(server, '/token', assertionParams(await signWith(third)))).status).toBe(401);
    expect(keys.hits).toBe(before + 1);
  });

  it('answers 401, never 500, when the keys a jwks_uri serves are unusable', async () => {
    const odd = await keyPair('ES256', 'odd');
    const saved = keys.body;
    keys.body = { keys: [{ ...odd.publicJwk, extra: [[[['nested']]]] }] };
    try {
      const res = await request(server, 'POST', '/register', {
        json: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: keys.url('/odd') },
      });
      const jwt = await assertion({ clientId: res.body.client_id, audience: server.config.issuer, key: odd.privateKey, alg: 'ES256', kid: 'odd' });
      const token = await postForm(server, '/token', assertionParams(jwt));
      expect(token.status).toBe(401);
      expect(token.body.error).toBe('invalid_client');
    } finally {
      keys.body = saved;
    }
  });

  it('refuses a jwks_uri the fetcher may not reach, at registration', async () => {
    const other = await startTestServer();
    try {
      for (const jwksUri of [keys.url(), 'https://127.0.0.1/jwks', 'https://10.0.0.1/jwks', 'https://169.254.169.254/jwks', 'https://[::1]/jwks']) {
        const res = await request(other, 'POST', '/register', { json: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri } });
        expect(res.status, jwksUri).toBe(400);
        expect(res.body.error).toBe('invalid_client_metadata');
      }
    } finally {
      await other.close();
    }
  });
});

describe('the outbound fetcher', () => {
  let target: KeyServer;
  const allowListed = (overrides: Partial<OutboundPolicy> = {}): OutboundPolicy => ({ allowedHosts: new Set([target.host]), timeoutMs: 1000, maxBytes: 1024, ...overrides });
  const strict: OutboundPolicy = { allowedHosts: new Set(), timeoutMs: 1000, maxBytes: 1024 };

  beforeAll(async () => {
    target = await new KeyServer().start();
  });
  afterAll(async () => target.stop());

  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundError);
    return (error as Error).message;
  };

  it.each([
    ['loopback over https', 'https://127.0.0.1:1/jwks'],
    ['a private address', 'https://10.0.0.1/jwks'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['IPv6 loopback', 'https://[::1]/jwks'],
    ['an IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/jwks'],
    ['CGNAT space', 'https://100.64.0.1/jwks'],
    ['IPv6 unique-local', 'https://[fd00::1]/jwks'],
    ['localhost by name', 'https://localhost/jwks'],
    ['an IPv4-compatible IPv6 loopback', 'https://[::127.0.0.1]/jwks'],
    ['an IPv4-translated IPv6 loopback', 'https://[::ffff:0:7f00:1]/jwks'],
    ['NAT64 of a private address', 'https://[64:ff9b::a00:1]/jwks'],
  ])('refuses %s without connecting', async (_name, url) => {
    const started = Date.now();
    expect(await refusal(fetchJson(url, strict))).toMatch(/internal|localhost/);
    expect(Date.now() - started).toBeLessThan(500); // refused before any connection attempt
  });

  it('refuses plain http unless the host is allow-listed, and never reaches the target', async () => {
    target.hits = 0;
    target.body = { keys: [] };
    expect(await refusal(fetchJson(target.url(), strict))).toContain('https');
    expect(target.hits).toBe(0);
    expect((await fetchJson(target.url(), allowListed())).body).toEqual({ keys: [] });
    expect(target.hits).toBe(1);
  });

  it('refuses, at connect time, a host name that resolves to an internal address', async () => {
    // the socket's own lookup: what it refuses is never connected to (no DNS rebinding window)
    const lookup = (allow: boolean, options: object) =>
      new Promise<unknown>((resolve, reject) => guardedLookup(allow)('localhost', options as never, (error, address) => (error ? reject(error) : resolve(address))));
    for (const options of [{}, { all: true }]) {
      const error = await lookup(false, options).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(OutboundError);
      expect((error as Error).message).toContain('resolves to an internal address');
    }
    expect(await lookup(true, {})).toBe('127.0.0.1');
    expect(await lookup(true, { all: true })).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('gives up after the timeout', async () => {
    target.delayMs = 2000;
    try {
      expect(await refusal(fetchJson(target.url(), allowListed({ timeoutMs: 200 })))).toContain('did not answer within 200 ms');
    } finally {
      target.delayMs = 0;
    }
  });

  it('refuses a body over the size cap', async () => {
    target.body = { keys: [], padding: 'x'.repeat(5000) };
    expect(await refusal(fetchJson(target.url(), allowListed()))).toContain('more than 1024 bytes');
  });

  it('does not follow redirects', async () => {
    target.status = 302;
    target.headers = { location: 'http://169.254.169.254/' };
    try {
      expect(await refusal(fetchJson(target.url(), allowListed()))).toContain('redirect');
    } finally {
      target.status = 200;
      target.headers = { 'content-type': 'application/json' };
    }
  });

  it('refuses what is not JSON', async () => {
    target.body = '<html>';
    expect(await refusal(fetchJson(target.url(), allowListed()))).toContain('JSON');
  });

  it('matches allow-list entries with default ports', async () => {
    const { isAllowListed } = await import('../../src/outbound/address-policy.js');
    expect(isAllowListed(new URL('https://keys.internal/jwks'), new Set(['keys.internal:443']))).toBe(true);
    expect(isAllowListed(new URL('http://keys.internal/jwks'), new Set(['keys.internal:443']))).toBe(false);
    expect(isAllowListed(new URL('http://keys.internal:8080/jwks'), new Set(['keys.internal']))).toBe(true);
    expect(isAllowListed(new URL('https://other.internal/jwks'), new Set(['keys.internal']))).toBe(false);
  });

  it('fetches a failing URI at most once per cool-down, serving the last good copy meanwhile', async () => {
    let now = 2_000_000;
    const cache = new RemoteJwksCache(allowListed({ maxBytes: 100_000 }), () => now, 100);
    const key = await keyPair('ES256', 'stale');
    target.status = 200;
    target.headers = { 'content-type': 'application/json', 'cache-control': 'max-age=60' };
    target.body = { keys: [key.publicJwk] };
    target.hits = 0;
    expect((await cache.get(target.url('/s'))).keys).toHaveLength(1);
    target.status = 503;
    now += 61; // expired: one refetch, which fails; the stale copy answers
    expect((await cache.get(target.url('/s'))).keys).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      expect((await cache.get(target.url('/s'))).keys).toHaveLength(1);
      expect(await cache.refetchForUnknownKid(target.url('/s'))).toBeUndefined();
    }
    expect(target.hits).toBe(2);
    // a URI that never answered: its failure is remembered for the cool-down too
    await expect(cache.get(target.url('/never'))).rejects.toThrow(OutboundError);
    await expect(cache.get(target.url('/never'))).rejects.toThrow(OutboundError);
    expect(target.hits).toBe(3);
    target.status = 200;
  });

  it('refuses a remote key set of more than 20 keys', async () => {
    const cache = new RemoteJwksCache(allowListed({ maxBytes: 500_000 }), () => 3_000_000, 100);
    const key = await keyPair('ES256');
    target.headers = { 'content-type': 'application/json' };
    target.body = { keys: Array.from({ length: 21 }, (_, i) => ({ ...key.publicJwk, kid: `k${i}` })) };
    await expect(cache.get(target.url('/many'))).rejects.toThrow(/at most 20/);
  });

  it('caches per Cache-Control within bounds, and refuses key sets with private keys', async () => {
    let now = 1_000_000;
    const cache = new RemoteJwksCache(allowListed({ maxBytes: 100_000 }), () => now, 100);
    const key = await keyPair('ES256', 'cached');
    target.body = { keys: [key.publicJwk] };
    target.headers = { 'content-type': 'application/json', 'cache-control': 'max-age=120' };
    target.hits = 0;
    await cache.get(target.url('/a'));
    now += 119;
    await cache.get(target.url('/a'));
    expect(target.hits).toBe(1);
    now += 2;
    await cache.get(target.url('/a'));
    expect(target.hits).toBe(2);

    target.headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
    await cache.get(target.url('/b'));
    now += 30;
    await cache.get(target.url('/b'));
    expect(target.hits).toBe(3); // no-store still cached for the 60 s floor
    target.headers = { 'content-type': 'application/json', 'cache-control': 'max-age=99999999' };
    await cache.get(target.url('/c'));
    now += 3_601;
    await cache.get(target.url('/c'));
    expect(target.hits).toBe(5); // capped at one hour

    target.body = { keys: [{ ...key.publicJwk, d: 'private' }] };
    const refused = await cache.get(target.url('/d')).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(OutboundError);
  });
});
