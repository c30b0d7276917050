import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { connectPostgres } from '../../src/storage/postgres.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { ServerKeys, type ServerKeyPolicy } from '../../src/tokens/server-keys.js';
import { signCompactJws } from '../../src/tokens/compact-jws.js';
import { SERVER_SIGNING_ALGS } from '../../src/config/config.js';
import { freshDatabase, request, serveApp, startTestServer, storageKind, TEST_SECRETS_KEY, type TestServer } from '../support/test-server.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';

const policy: ServerKeyPolicy = { algs: ['ES256'], activationDelaySeconds: 600, rotationIntervalSeconds: 0, retentionSeconds: 330 };
const BOTH = { algs: ['ES256', 'RS256'] } as const;
const secrets = createSecretBox([randomBytes(32)]);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function keysOverFreshDatabase(overrides: Partial<ServerKeyPolicy> = {}) {
  const database = await freshDatabase();
  cleanups.push(async () => {
    await database.db.close();
    await database.drop();
  });
  let now = 1_800_000_000;
  const clock = { now: () => now, advance: (seconds: number) => (now += seconds) };
  const repository = new ServerKeyRepository(database.db);
  const make = (more: Partial<ServerKeyPolicy> = {}) => new ServerKeys(repository, secrets, { ...policy, ...overrides, ...more }, clock.now);
  return { db: database.db, repository, clock, make };
}

const algsOf = (keys: readonly { alg: string }[]) => keys.map((k) => k.alg).sort();
const kidsOf = (keys: ServerKeys) => keys.publicJwks().keys.map((k) => k.kid as string).sort();

describe(`server signing keys (${storageKind})`, () => {
  it('makes one key per configured algorithm on first start, shared by instances starting together', async () => {
    const { repository, make, clock } = await keysOverFreshDatabase(BOTH);
    const instances = [make(), make(), make()];
    await Promise.all(instances.map((k) => k.start()));
    const all = await repository.all();
    expect(algsOf(all)).toEqual(['ES256', 'RS256']);
    // each first key signs at once: no token of its algorithm can predate it
    expect(all.map((k) => k.activatesAt)).toEqual([clock.now(), clock.now()]);
    for (const keys of instances) expect(['ES256', 'RS256'].map((alg) => keys.signingKey(alg as 'ES256').alg)).toEqual(['ES256', 'RS256']);
    expect(instances[0]!.canSign()).toBe(true);
  });

  it('keeps every private key only as ciphertext, and publishes public members only', async () => {
    const { db, make } = await keysOverFreshDatabase(BOTH);
    const keys = make();
    await keys.start();
    const rows = await db.query<{ private_ciphertext: string }>('SELECT private_ciphertext FROM server_keys');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.private_ciphertext).toMatch(/^v1\./);
      expect(row.private_ciphertext).not.toContain('"d"');
    }
    for (const jwk of keys.publicJwks().keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(jwk).not.toHaveProperty(member);
    const byAlg = Object.fromEntries(keys.publicJwks().keys.map((k) => [k.alg, k]));
    expect(byAlg.ES256).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig' });
    expect(byAlg.RS256).toMatchObject({ kty: 'RSA', e: 'AQAB', use: 'sig' });
    // 2048-bit modulus: 256 bytes
    expect(Buffer.from(byAlg.RS256!.n as string, 'base64url')).toHaveLength(256);
  });

  it.each(SERVER_SIGNING_ALGS)('signs with its %s key what jose verifies with the published key', async (alg) => {
    const { make } = await keysOverFreshDatabase({ algs: [alg] });
    const keys = make();
    await keys.start();
    const signing = keys.signingKey(alg);
    const token = signCompactJws({ alg, kid: signing.kid, typ: 'JWT' }, { sub: 'alice' }, signing.key);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.publicJwks() as never), { algorithms: [alg] });
    expect([protectedHeader.alg, protectedHeader.kid, payload.sub]).toEqual([alg, signing.kid, 'alice']);
    expect(keys.verificationKey(signing.kid)?.alg).toBe(alg);
  });

  it('refuses to sign with an algorithm it holds no key for', async () => {
    const { make } = await keysOverFreshDatabase();
    const keys = make();
    await keys.start();
    expect(() => keys.signingKey('RS256')).toThrow(/no active RS256 server signing key \(RS256 is not in SIGNING_KEY_ALGS\)/);
    await expect(keys.rotate(['RS256'])).rejects.toThrow(/RS256/);
  });

  it('publishes a rotated key before it signs, and retires the old one after its tokens expired', async () => {
    const { clock, make } = await keysOverFreshDatabase();
    const keys = make();
    await keys.start();
    const old = keys.signingKey('ES256').kid;
    const [added] = await keys.rotate();
    await keys.refresh();
    expect(kidsOf(keys)).toEqual([old, added!.kid].sort()); // published at once
    expect(keys.signingKey('ES256').kid).toBe(old); // not signing yet

    clock.advance(600);
    await keys.refresh();
    expect(keys.signingKey('ES256').kid).toBe(added!.kid); // signing after the activation delay
    expect(kidsOf(keys)).toContain(old); // old tokens still verify

    clock.advance(329);
    await keys.refresh();
    expect(kidsOf(keys)).toContain(old);
    clock.advance(2);
    await keys.refresh();
    expect(kidsOf(keys)).toEqual([added!.kid]); // gone once its tokens expired
  });

  it('rotates one algorithm without touching the others, or all of them', async () => {
    const { clock, make } = await keysOverFreshDatabase(BOTH);
    const keys = make();
    await keys.start();
    const first = { ES256: keys.signingKey('ES256').kid, RS256: keys.signingKey('RS256').kid };

    const [rsa, ...none] = await keys.rotate(['RS256']);
    expect([rsa!.alg, none]).toEqual(['RS256', []]);
    clock.advance(600);
    await keys.refresh();
    expect(keys.signingKey('RS256').kid).toBe(rsa!.kid);
    expect(keys.signingKey('ES256').kid).toBe(first.ES256);
    // the retired RS256 key leaves a retention later; the ES256 key, which nothing replaced, stays
    clock.advance(331);
    await keys.refresh();
    expect(kidsOf(keys)).toEqual([first.ES256, rsa!.kid].sort());

    const all = await keys.rotate();
    expect(algsOf(all)).toEqual(['ES256', 'RS256']);
    // a rotation activates strictly after the newest key of its own algorithm, not of the others
    expect(all.every((key) => key.activatesAt === clock.now() + 600)).toBe(true);
    clock.advance(600);
    await keys.refresh();
    expect([keys.signingKey('ES256').kid, keys.signingKey('RS256').kid].sort()).toEqual(all.map((k) => k.kid).sort());
  });

  it('rotates each algorithm on its interval, once, however many instances notice', async () => {
    const { repository, clock, make } = await keysOverFreshDatabase({ ...BOTH, rotationIntervalSeconds: 3600 });
    const instances = [make(), make()];
    await instances[0]!.start();
    await instances[1]!.start();
    clock.advance(3600);
    await Promise.all(instances.map((k) => k.refresh()));
    expect(algsOf(await repository.all())).toEqual(['ES256', 'ES256', 'RS256', 'RS256']);
  });

  it('adds the first key of an algorithm new to SIGNING_KEY_ALGS, signing at once, and leaves the others be', async () => {
    const { repository, make, clock } = await keysOverFreshDatabase();
    const before = make();
    await before.start(); // an existing deployment: one ES256 key
    const es256 = before.signingKey('ES256').kid;
    clock.advance(5000);
    const upgraded = make(BOTH);
    await upgraded.start();
    const all = await repository.all();
    expect(algsOf(all)).toEqual(['ES256', 'RS256']);
    expect(upgraded.signingKey('ES256').kid).toBe(es256);
    expect(upgraded.signingKey('RS256').kid).toBe(all.find((k) => k.alg === 'RS256')!.kid);
  });

  it('a second instance sees keys another made at its next refresh', async () => {
    const { make } = await keysOverFreshDatabase(BOTH);
    const [one, two] = [make(), make()];
    await one.start();
    await two.start();
    const added = await one.rotate();
    expect(kidsOf(two)).not.toContain(added[0]!.kid);
    await two.refresh();
    for (const key of added) expect(two.verificationKey(key.kid)?.alg).toBe(key.alg);
    expect(kidsOf(two)).toEqual(kidsOf(one));
  });
});

describe(`the JWKS endpoint and a rotation by another process (${storageKind})`, () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each(SERVER_SIGNING_ALGS)('issues access tokens signed with SIGNING_KEY_ALG %s, verifying against /jwks', async (alg) => {
    server = await startTestServer({ SIGNING_KEY_ALGS: `RS256,${alg}`, SIGNING_KEY_ALG: alg });
    const machine = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
    const issued = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(machine.client_id, machine.client_secret) });
    const jwks = createLocalJWKSet((await request(server, 'GET', '/jwks')).body);
    const { payload, protectedHeader } = await jwtVerify(issued.body.access_token, jwks, { issuer: server.config.issuer, audience: server.config.issuer, typ: 'at+jwt', algorithms: [alg] });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload.client_id).toBe(machine.client_id);
  });

  it('serves the public keys with caching headers', async () => {
    server = await startTestServer();
    const res = await request(server, 'GET', '/jwks');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(algsOf(res.body.keys)).toEqual(['ES256', 'RS256']);
    for (const key of res.body.keys) expect(key).not.toHaveProperty('d');
  });

  it('makes a key for each algorithm of SIGNING_KEY_ALGS at start, all on /jwks', async () => {
    const database = await freshDatabase(); // not a test server's: no key made beforehand
    cleanups.push(async () => {
      await database.db.close();
      await database.drop();
    });
    const { url, app } = await serveApp(database.db, { SIGNING_KEY_ALGS: 'ES256,RS256,PS256,EdDSA' });
    cleanups.push(() => app.close());
    const jwks = (await request({ url }, 'GET', '/jwks')).body;
    expect(algsOf(jwks.keys)).toEqual(['ES256', 'EdDSA', 'PS256', 'RS256']);
    expect((await request({ url }, 'GET', '/readyz')).status).toBe(200);
  });

  // `oidc-registrar keys rotate` goes through the admin API now: test/cli/e2e.test.ts
  it.runIf(storageKind === 'postgres')('a rotation by another process publishes a key at once that signs only after the delay', async () => {
    server = await startTestServer();
    const before: string[] = (await request(server, 'GET', '/jwks')).body.keys.map((k: { kid: string }) => k.kid);
    // another process on the same database: its own pool, the same SECRETS_KEY
    const otherPool = connectPostgres(server.databaseUrl!, 2, pino({ level: 'silent' }));
    cleanups.push(() => otherPool.close());
    const other = new ServerKeys(new ServerKeyRepository(otherPool), createSecretBox([Buffer.from(TEST_SECRETS_KEY, 'base64')]), { ...policy, ...BOTH, activationDelaySeconds: 600 }, () => Math.floor(Date.now() / 1000));
    await other.start();
    const { kid } = (await other.rotate(['ES256']))[0]!;
    // an instance that starts now, or any instance at its next key refresh, publishes both...
    const replica = await startTestServer({}, undefined, server);
    cleanups.push(() => replica.close());
    const published = (await request(replica, 'GET', '/jwks')).body.keys.map((k: { kid: string }) => k.kid);
    expect(published.sort()).toEqual([...before, kid].sort());
    // ...and goes on signing with the old key until the activation delay has passed
    const machine = await registerMachineClient(replica, { token_endpoint_auth_method: 'client_secret_basic' });
    const issued = await postForm(replica, '/token', { grant_type: 'client_credentials' }, { authorization: basic(machine.client_id, machine.client_secret) });
    const header = JSON.parse(Buffer.from((issued.body.access_token as string).split('.')[0]!, 'base64url').toString());
    expect(before).toContain(header.kid);
    expect(header.kid).not.toBe(kid);
  });
});
