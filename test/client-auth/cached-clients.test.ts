import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { assertion, assertionParams, keyPair, postForm, registerMachineClient, type KeyPair } from '../support/client-auth.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { ReplayRepository } from '../../src/storage/replay-repository.js';

/**
 * The token endpoint keeps clients that authenticate by JWT assertion in memory (client-cache.ts)
 * and records assertion ids in group commits (batcher.ts). These are the guarantees that must
 * survive that: an assertion is accepted once across instances and restarts, and a client
 * changed, disabled or deleted on one instance is judged by its stored state on the other from
 * the next request on — the bound is zero, not a cache lifetime.
 */
describe(`cached clients and batched replay ids (${storageKind})`, () => {
  const issuer = 'https://id.example';
  let a: TestServer;
  let b: TestServer;
  let key: KeyPair;
  let adminOnA: (method: string, path: string, json?: unknown) => ReturnType<typeof request>;

  beforeAll(async () => {
    a = await startTestServer({ ISSUER: issuer });
    b = await startTestServer({ ISSUER: issuer }, undefined, a);
    key = await keyPair('ES256');
    const token = await adminToken(a, await bootstrapAdmin(a));
    adminOnA = (method, path, json) => request(a, method, `/admin${path}`, { token, ...(json === undefined ? {} : { json }) });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const pkjwtClient = () => registerMachineClient(a, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
  const signAs = (clientId: string, k: KeyPair = key) => assertion({ clientId, audience: issuer, key: k.privateKey, alg: k.alg, kid: k.kid });
  const tokenOn = async (server: TestServer, clientId: string) => (await postForm(server, '/token', assertionParams(await signAs(clientId)))).status;

  it('a client disabled on one instance is refused on the other at its next request, though cached there; enabled, at once accepted', async () => {
    const client = await pkjwtClient();
    expect(await tokenOn(b, client.client_id)).toBe(200); // b now holds the client in its cache
    expect(await tokenOn(b, client.client_id)).toBe(200);
    expect((await adminOnA('POST', `/clients/${client.client_id}/disable`)).status).toBe(200);
    expect(await tokenOn(b, client.client_id)).toBe(401);
    expect((await adminOnA('POST', `/clients/${client.client_id}/enable`)).status).toBe(200);
    expect(await tokenOn(b, client.client_id)).toBe(200);
  });

  it('under concurrent use on the other instance, no request that starts after the disable has answered succeeds', async () => {
    const client = await pkjwtClient();
    // assertions signed beforehand, so that requests go out back to back
    const pool = await Promise.all(Array.from({ length: 400 }, () => signAs(client.client_id)));
    let disabledAt: number | undefined;
    const results: { sentAt: number; status: number }[] = [];
    const worker = async () => {
      for (let jwt = pool.pop(); jwt !== undefined; jwt = pool.pop()) {
        const sentAt = performance.now();
        const res = await postForm(b, '/token', assertionParams(jwt));
        results.push({ sentAt, status: res.status });
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await adminOnA('POST', `/clients/${client.client_id}/disable`)).status).toBe(200);
    disabledAt = performance.now();
    await load;
    const before = results.filter((r) => r.sentAt < disabledAt!);
    const after = results.filter((r) => r.sentAt > disabledAt!);
    expect(before.some((r) => r.status === 200)).toBe(true); // the load did run while the client was usable
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => r.status !== 401)).toEqual([]);
  });

  it('a client deleted on one instance is refused on the other at once, though cached there', async () => {
    const client = await pkjwtClient();
    expect(await tokenOn(b, client.client_id)).toBe(200);
    expect((await request(a, 'DELETE', `/register/${client.client_id}`, { token: client.registration_access_token })).status).toBe(204);
    expect(await tokenOn(b, client.client_id)).toBe(401);
  });

  it('a client_secret_jwt secret rotated on one instance: the other refuses the old secret and takes the new one at once', async () => {
    const client = await registerMachineClient(a, { token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' });
    const withSecret = (secret: string) =>
      assertion({ clientId: client.client_id, audience: issuer, key: new TextEncoder().encode(secret), alg: 'HS256' });
    expect((await postForm(b, '/token', assertionParams(await withSecret(client.client_secret)))).status).toBe(200);
    const rotated = await adminOnA('POST', `/clients/${client.client_id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect((await postForm(b, '/token', assertionParams(await withSecret(client.client_secret)))).status).toBe(401);
    expect((await postForm(b, '/token', assertionParams(await withSecret(rotated.body.client_secret)))).status).toBe(200);
  });

  it('an assertion used before a restart is refused after it', async () => {
    const client = await pkjwtClient();
    const jwt = await signAs(client.client_id);
    const first = await startTestServer({ ISSUER: issuer }, undefined, a);
    expect((await postForm(first, '/token', assertionParams(jwt))).status).toBe(200);
    await first.close();
    const restarted = await startTestServer({ ISSUER: issuer }, undefined, a);
    try {
      expect((await postForm(restarted, '/token', assertionParams(jwt))).status).toBe(401);
      expect((await postForm(restarted, '/token', assertionParams(await signAs(client.client_id)))).status).toBe(200);
    } finally {
      await restarted.close();
    }
  });

  it('200 concurrent fresh assertions on two instances are all accepted, each once (one batch answers each from its own row)', async () => {
    const client = await pkjwtClient();
    const jwts = await Promise.all(Array.from({ length: 100 }, () => signAs(client.client_id)));
    const first = await Promise.all(jwts.flatMap((jwt) => [postForm(a, '/token', assertionParams(jwt)), postForm(b, '/token', assertionParams(jwt))]));
    // each assertion went to both instances at once: exactly one of the two won
    for (let i = 0; i < jwts.length; i += 1) expect([first[2 * i]!.status, first[2 * i + 1]!.status].sort()).toEqual([200, 401]);
  });

  it('one batch with the same id twice, and ids used before: exactly the first use of each wins', async () => {
    const replay = new ReplayRepository(a.db);
    const now = Math.floor(Date.now() / 1000);
    const client = await pkjwtClient();
    expect((await replay.firstUse(client.client_id, 'used-before', now + 60, now)).first).toBe(true);
    // submitted together: the first goes alone, the rest wait for it and go as one statement
    const outcomes = await Promise.all(
      ['x', 'x', 'y', 'used-before', 'x', 'z', 'y'].map((jti) => replay.firstUse(client.client_id, jti, now + 60, now)),
    );
    expect(outcomes.map((o) => o.first)).toEqual([true, false, true, false, false, true, false]);
    // the client's stored version comes back with every answer; a client that does not exist has none
    expect(outcomes.every((o) => o.clientVersion === 1)).toBe(true);
    expect((await replay.firstUse('no-such-client-0000', 'q', now + 60, now)).clientVersion).toBeUndefined();
    // an expired row is taken over rather than blocking the id forever
    expect((await replay.firstUse(client.client_id, 'old', now - 10, now - 20)).first).toBe(true);
    expect((await replay.firstUse(client.client_id, 'old', now + 60, now)).first).toBe(true);
  });
});
