import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactVerify, SignJWT } from 'jose';
import { ClientKeys } from '../../src/client-auth/client-keys.js';
import { RemoteJwksCache } from '../../src/client-auth/remote-jwks.js';
import { ClientRepository, DEFAULT_SETTINGS, type StoredClient } from '../../src/storage/client-repository.js';
import { keyPair, registerMachineClient, type KeyPair } from '../support/client-auth.js';
import { KeyServer } from '../support/key-server.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/** A client as stored, holding `keys` inline: what ClientKeys is given on a request. */
const storedClient = (clientId: string, keys: KeyPair[], version = 1): StoredClient => ({
  clientId,
  version,
  metadata: { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: keys.map((k) => ({ ...k.publicJwk, alg: k.alg })) } },
  secretCiphertext: null,
  secretExpiresAt: 0,
  previousSecret: null,
  registrationTokenHash: new Uint8Array(32),
  clientIdIssuedAt: 0,
  settings: DEFAULT_SETTINGS,
  createdVia: 'dynamic_registration',
  updatedAt: 0,
  lastUsedAt: null,
  initialAccessTokenId: null,
  registrationPolicy: null,
});

describe('the per-instance caches of clients\' keys are bounded', () => {
  let keyServer: KeyServer;
  let twenty: KeyPair[];
  beforeAll(async () => {
    keyServer = await new KeyServer().start();
    twenty = await Promise.all(Array.from({ length: 20 }, (_, i) => keyPair('ES256', `k${i}`)));
  });
  afterAll(async () => keyServer.stop());

  const policy = () => ({ allowedHosts: new Set([keyServer.host]), timeoutMs: 1000, maxBytes: 100_000 });

  it('parsed inline key sets: at most the configured number of clients, least recently used dropped first', async () => {
    const keys = new ClientKeys(new RemoteJwksCache(policy(), () => 1_000_000, 10), 10);
    for (let i = 0; i < 200; i++) await keys.forClient(storedClient(`client-${String(i).padStart(16, '0')}`, twenty));
    expect(keys.size).toBe(10);

    // a set still held works: a real signature verifies against it
    const recent = (await keys.forClient(storedClient(`client-${String(199).padStart(16, '0')}`, twenty)))!;
    const jws = await new SignJWT({ x: 1 }).setProtectedHeader({ alg: 'ES256', kid: 'k7' }).sign(twenty[7]!.privateKey);
    expect((await compactVerify(jws, recent.getKey)).protectedHeader.kid).toBe('k7');
    expect(keys.size).toBe(10);
  });

  it('fetched jwks_uri documents: at most the configured number of URIs', async () => {
    keyServer.body = { keys: [twenty[0]!.publicJwk] };
    keyServer.headers = { 'content-type': 'application/json' };
    const remote = new RemoteJwksCache(policy(), () => 1_000_000, 5);
    for (let i = 0; i < 30; i++) expect((await remote.get(keyServer.url(`/jwks/${i}`))).keys).toHaveLength(1);
    expect(remote.size).toBe(5);
  });

  it('a new version of a client replaces its entry instead of adding one', async () => {
    const keys = new ClientKeys(new RemoteJwksCache(policy(), () => 1_000_000, 10), 10);
    const first = await keys.forClient(storedClient('client-0000000000000001', twenty.slice(0, 1), 1));
    const second = await keys.forClient(storedClient('client-0000000000000001', twenty.slice(1, 2), 2));
    expect(second).not.toBe(first);
    expect(keys.size).toBe(1);
  });
});

describe(`entries of clients changed or deleted on another instance are swept (${storageKind})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it('drops the deleted and the changed, keeps the rest', async () => {
    const key = await keyPair('ES256');
    const register = () => registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
    const [kept, deleted, changed] = [await register(), await register(), await register()];
    // this instance's cache, over the same database the server (the "other instance") writes to
    const repository = new ClientRepository(server.db);
    const keys = new ClientKeys(new RemoteJwksCache({ allowedHosts: new Set(), timeoutMs: 1000, maxBytes: 1000 }, () => 0, 10), 10);
    for (const client of [kept, deleted, changed]) await keys.forClient((await repository.findById(client.client_id))!);
    expect(keys.size).toBe(3);

    expect((await request(server, 'DELETE', `/register/${deleted.client_id}`, { token: deleted.registration_access_token })).status).toBe(204);
    const update = { client_id: changed.client_id, grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } };
    expect((await request(server, 'PUT', `/register/${changed.client_id}`, { token: changed.registration_access_token, json: update })).status).toBe(200);

    expect(await keys.sweep((ids) => repository.versions(ids))).toBe(2);
    expect(keys.size).toBe(1);
    expect(await keys.sweep((ids) => repository.versions(ids))).toBe(0);
  });
});
