import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { ServerKeys, type ServerKeyPolicy } from '../../src/tokens/server-keys.js';
import { freshDatabase, request, startTestServer, storageKind, TEST_SECRETS_KEY, type TestServer } from '../support/test-server.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { runCli, temporaryDataDir } from '../support/server-process.js';

const policy: ServerKeyPolicy = { alg: 'ES256', activationDelaySeconds: 600, rotationIntervalSeconds: 0, retentionSeconds: 330 };
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
  const make = () => new ServerKeys(repository, secrets, { ...policy, ...overrides }, clock.now);
  return { db: database.db, repository, clock, make };
}

describe(`server signing keys (${storageKind})`, () => {
  it('makes one key on first start, shared by instances starting together', async () => {
    const { repository, make } = await keysOverFreshDatabase();
    await Promise.all([make().start(), make().start(), make().start()]);
    expect(await repository.all()).toHaveLength(1);
  });

  it('keeps the private key only as ciphertext, and publishes public members only', async () => {
    const { db, make } = await keysOverFreshDatabase();
    const keys = make();
    await keys.start();
    const [row] = await db.query<{ public_jwk: Record<string, unknown>; private_ciphertext: string }>('SELECT public_jwk, private_ciphertext FROM server_keys');
    expect(row!.private_ciphertext).toMatch(/^v1\./);
    expect(row!.private_ciphertext).not.toContain('"d"');
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(keys.publicJwks().keys[0]).not.toHaveProperty(member);
    expect(keys.publicJwks().keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  });

  it('publishes a rotated key before it signs, and retires the old one after its tokens expired', async () => {
    const { clock, make } = await keysOverFreshDatabase();
    const keys = make();
    await keys.start();
    const old = keys.signingKey().kid;
    const added = await keys.rotate();
    await keys.refresh();
    expect(keys.publicJwks().keys.map((k) => k.kid).sort()).toEqual([old, added.kid].sort()); // published at once
    expect(keys.signingKey().kid).toBe(old); // not signing yet

    clock.advance(600);
    await keys.refresh();
    expect(keys.signingKey().kid).toBe(added.kid); // signing after the activation delay
    expect(keys.publicJwks().keys.map((k) => k.kid)).toContain(old); // old tokens still verify

    clock.advance(329);
    await keys.refresh();
    expect(keys.publicJwks().keys.map((k) => k.kid)).toContain(old);
    clock.advance(2);
    await keys.refresh();
    expect(keys.publicJwks().keys.map((k) => k.kid)).toEqual([added.kid]); // gone once its tokens expired
  });

  it('rotates on its interval, once, however many instances notice', async () => {
    const { repository, clock, make } = await keysOverFreshDatabase({ rotationIntervalSeconds: 3600 });
    const instances = [make(), make()];
    await instances[0]!.start();
    await instances[1]!.start();
    clock.advance(3600);
    await Promise.all(instances.map((k) => k.refresh()));
    expect(await repository.all()).toHaveLength(2);
  });

  it('introduces a key of a newly configured SIGNING_KEY_ALG as a rotation', async () => {
    const { repository, make, clock } = await keysOverFreshDatabase();
    await make().start();
    const switched = new ServerKeys(repository, secrets, { ...policy, alg: 'RS256' }, clock.now);
    await switched.start();
    const all = await repository.all();
    expect(all.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(switched.signingKey().alg).toBe('ES256'); // until the new key activates
    clock.advance(600);
    await switched.refresh();
    expect(switched.signingKey().alg).toBe('RS256');
  });

  it.each(['RS256', 'EdDSA'] as const)('can sign with %s', async (alg) => {
    const { make } = await keysOverFreshDatabase({ alg });
    const keys = make();
    await keys.start();
    expect(keys.signingKey().alg).toBe(alg);
  });
});

describe(`the JWKS endpoint and a rotation through the CLI (${storageKind})`, () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each(['ES256', 'RS256', 'EdDSA'])('issues access tokens that verify against /jwks with %s', async (alg) => {
    server = await startTestServer({ SIGNING_KEY_ALG: alg });
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
    expect(res.body.keys).toHaveLength(1);
    expect(res.body.keys[0]).not.toHaveProperty('d');
  });

  it.runIf(storageKind === 'embedded')('`cli keys rotate` adds a pending key to the embedded database', async () => {
    // the embedded database belongs to one process: the CLI works on its own DATA_DIR here,
    // seeded with the migrated template; three processes, each opening it, get 60 s
    const dataDir = temporaryDataDir('registrar-cli-', { seeded: true });
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const run = (...args: string[]) => runCli({ DATA_DIR: dataDir }, ...args);
    expect((await run('keys', 'list')).stdout.trim().split('\n')).toHaveLength(1);
    expect((await run('keys', 'rotate')).stdout).toMatch(/^added \S+ \(ES256\): published now, signs from /);
    const listed = (await run('keys', 'list')).stdout.trim().split('\n');
    expect(listed).toHaveLength(2);
    expect(listed.filter((line) => line.endsWith('pending'))).toHaveLength(1);
  }, 60_000);

  it.runIf(storageKind === 'postgres')('`cli keys rotate` publishes a key at once that signs only after the delay', async () => {
    server = await startTestServer();
    const run = (...args: string[]) => runCli({ DATABASE_URL: server!.databaseUrl!, SECRETS_KEY: TEST_SECRETS_KEY }, ...args);
    const before: string[] = (await request(server, 'GET', '/jwks')).body.keys.map((k: { kid: string }) => k.kid);
    const kid = /^added (\S+) \(ES256\)/.exec((await run('keys', 'rotate')).stdout)?.[1];
    expect(kid).toBeDefined();
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
