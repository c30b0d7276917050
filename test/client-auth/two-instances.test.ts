import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { assertion, assertionParams, basic, keyPair, postForm, registerMachineClient, type KeyPair } from '../support/client-auth.js';

/** Two server instances on one database, as two replicas behind a load balancer would run. */
describe(`two instances on one database (${storageKind})`, () => {
  let a: TestServer;
  let b: TestServer;
  let key: KeyPair;
  let client: Record<string, any>;
  const issuer = 'https://id.example';

  beforeAll(async () => {
    // one issuer for both, as replicas share it
    a = await startTestServer({ ISSUER: issuer });
    b = await startTestServer({ ISSUER: issuer }, undefined, a);
    key = await keyPair('ES256');
    client = await registerMachineClient(a, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const sign = () => assertion({ clientId: client.client_id, audience: issuer, key: key.privateKey, alg: 'ES256', kid: key.kid });

  it('a client registered on one authenticates on the other', async () => {
    const res = await postForm(b, '/token', assertionParams(await sign()));
    expect(res.status).toBe(200);
  });

  it('an assertion used on one is refused on the other', async () => {
    const jwt = await sign();
    expect((await postForm(a, '/token', assertionParams(jwt))).status).toBe(200);
    expect((await postForm(b, '/token', assertionParams(jwt))).status).toBe(401);
  });

  it('of concurrent uses of one assertion across both, exactly one succeeds', async () => {
    const jwt = await sign();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => postForm(i % 2 ? a : b, '/token', assertionParams(jwt))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('both sign with the same keys and publish the same JWKS', async () => {
    const [jwksA, jwksB] = await Promise.all([request(a, 'GET', '/jwks'), request(b, 'GET', '/jwks')]);
    expect(jwksA.body).toEqual(jwksB.body);
    expect(jwksA.body.keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['ES256', 'RS256']); // one key per SIGNING_KEY_ALGS
  });

  it('a token issued by one introspects and revokes on the other', async () => {
    const issued = (await postForm(a, '/token', assertionParams(await sign()))).body;
    const active = await postForm(b, '/introspect', { token: issued.access_token, ...assertionParams(await sign()) });
    expect(active.body.active).toBe(true);
    expect((await postForm(b, '/revoke', { token: issued.access_token, ...assertionParams(await sign()) })).status).toBe(200);
    const revoked = await postForm(a, '/introspect', { token: issued.access_token, ...assertionParams(await sign()) });
    expect(revoked.body).toEqual({ active: false });
  });

  it('a client updated on one uses its new keys on the other at once', async () => {
    const machine = await registerMachineClient(a, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
    const signAs = (k: KeyPair) => assertion({ clientId: machine.client_id, audience: issuer, key: k.privateKey, alg: k.alg, kid: k.kid });
    expect((await postForm(b, '/token', assertionParams(await signAs(key)))).status).toBe(200); // b caches the parsed keys
    const next = await keyPair('ES256');
    const updated = await request(a, 'PUT', `/register/${machine.client_id}`, {
      token: machine.registration_access_token,
      json: { client_id: machine.client_id, grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [next.publicJwk] } },
    });
    expect(updated.status).toBe(200);
    expect((await postForm(b, '/token', assertionParams(await signAs(next)))).status).toBe(200);
    expect((await postForm(b, '/token', assertionParams(await signAs(key)))).status).toBe(401);
  });

  it('a jwks_uri client that updates its registration on one is fetched afresh on the other', async () => {
    const { createServer } = await import('node:http');
    let served = { keys: [key.publicJwk] };
    const keyServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(keyServer.address() as { port: number }).port}`;
    const a2 = await startTestServer({ ISSUER: issuer, OUTBOUND_ALLOWED_HOSTS: host }, undefined, a);
    const b2 = await startTestServer({ ISSUER: issuer, OUTBOUND_ALLOWED_HOSTS: host }, undefined, a);
    try {
      const metadata = { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `http://${host}/jwks` };
      const remote = (await request(a2, 'POST', '/register', { json: metadata })).body;
      const signAs = (k: KeyPair) => assertion({ clientId: remote.client_id, audience: issuer, key: k.privateKey, alg: k.alg, kid: k.kid });
      expect((await postForm(b2, '/token', assertionParams(await signAs(key)))).status).toBe(200); // b2 caches for an hour
      // the client drops its (compromised) key and tells us by updating its registration on a2
      const next = await keyPair('ES256');
      served = { keys: [next.publicJwk] };
      expect((await request(a2, 'PUT', `/register/${remote.client_id}`, { token: remote.registration_access_token, json: { ...metadata, client_id: remote.client_id } })).status).toBe(200);
      expect((await postForm(b2, '/token', assertionParams(await signAs(key)))).status).toBe(401);
      expect((await postForm(b2, '/token', assertionParams(await signAs(next)))).status).toBe(200);
    } finally {
      await b2.close();
      await a2.close();
      keyServer.close();
    }
  });

  it('a client deleted on one cannot authenticate on the other', async () => {
    const doomed = await registerMachineClient(a, { token_endpoint_auth_method: 'client_secret_basic' });
    const auth = { authorization: basic(doomed.client_id, doomed.client_secret) };
    expect((await postForm(b, '/token', { grant_type: 'client_credentials' }, auth)).status).toBe(200);
    expect((await request(a, 'DELETE', `/register/${doomed.client_id}`, { token: doomed.registration_access_token })).status).toBe(204);
    expect((await postForm(b, '/token', { grant_type: 'client_credentials' }, auth)).status).toBe(401);
  });
});
