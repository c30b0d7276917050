import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerKeys } from '../../src/tokens/server-keys.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { advanceWallClock } from '../support/clock.js';

/** RFC 7662 introspection and RFC 7009 revocation of the server's own access tokens. */
describe(`introspection and revocation (${storageKind})`, () => {
  let server: TestServer;
  let owner: Record<string, any>;
  let other: Record<string, any>;
  const auth = (client: Record<string, any>) => ({ authorization: basic(client.client_id, client.client_secret) });
  const issue = async (client = owner) => (await postForm(server, '/token', { grant_type: 'client_credentials' }, auth(client))).body.access_token as string;
  const introspect = (token: string, client = owner) => postForm(server, '/introspect', { token }, auth(client));
  const revoke = (token: string, client = owner) => postForm(server, '/revoke', { token }, auth(client));

  beforeAll(async () => {
    server = await startTestServer({ ACCESS_TOKEN_LIFETIME: '2' });
    owner = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
    other = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
  });
  afterAll(async () => server.close());

  describe('parameters sent without a value are treated as omitted (RFC 6749 §3.2)', () => {
    it('token endpoint: an empty scope asks for the registered scope; an empty client_id beside Basic is no conflict', async () => {
      const res = await postForm(server, '/token', { grant_type: 'client_credentials', scope: '', client_id: '' }, auth(owner));
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('openid profile');
    });

    it('an empty duplicate is no duplicate', async () => {
      const res = await request(server, 'POST', '/token', {
        body: 'grant_type=client_credentials&scope=openid&scope=',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth(owner) },
      });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('openid');
    });

    it('introspection and revocation: an empty token_type_hint and client_id are ignored, an empty token is missing', async () => {
      const token = await issue();
      const introspected = await postForm(server, '/introspect', { token, token_type_hint: '', client_id: '' }, auth(owner));
      expect(introspected.body.active).toBe(true);
      const revoked = await postForm(server, '/revoke', { token, token_type_hint: '', client_id: '' }, auth(owner));
      expect(revoked.status).toBe(200);
      expect((await introspect(token)).body.active).toBe(false);
      const empty = await postForm(server, '/introspect', { token: '' }, auth(owner));
      expect([empty.status, empty.body.error, empty.body.error_description]).toEqual([400, 'invalid_request', 'token is required']);
    });

    it('an empty grant_type is a missing grant_type', async () => {
      const res = await postForm(server, '/token', { grant_type: '' }, auth(owner));
      expect([res.status, res.body.error, res.body.error_description]).toEqual([400, 'invalid_request', 'grant_type is required']);
    });
  });

  it('describes an active token to its own client', async () => {
    const token = await issue();
    const res = await introspect(token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ active: true, token_type: 'Bearer', client_id: owner.client_id, sub: owner.client_id, iss: server.config.issuer, scope: 'openid profile' });
    expect(res.body.exp - res.body.iat).toBe(2);
  });

  it.each([
    ['malformed', async () => 'not-a-token'],
    ['a JWT signed by a key the server does not have', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const kid = JSON.parse(Buffer.from((await issue()).split('.')[0]!, 'base64url').toString()).kid;
      return new SignJWT({ client_id: owner.client_id }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).setIssuer(server.config.issuer).setSubject(owner.client_id).setIssuedAt().setExpirationTime('1m').setJti('forged').sign(privateKey);
    }],
    ['a JWT with an unknown kid', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      return new SignJWT({ client_id: owner.client_id }).setProtectedHeader({ alg: 'ES256', kid: 'nope', typ: 'at+jwt' }).setIssuer(server.config.issuer).setSubject(owner.client_id).setIssuedAt().setExpirationTime('1m').setJti('x').sign(privateKey);
    }],
    ['a token of another client', () => issue(other)],
  ])('answers {active: false} for %s', async (_name, make) => {
    const res = await introspect(await make());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
  });

  it('answers {active: false} once the token has expired', async () => {
    const token = await issue();
    expect((await introspect(token)).body.active).toBe(true);
    advanceWallClock(3_100);
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it('revokes durably: the revocation is stored until the token would have expired', async () => {
    const token = await issue();
    const res = await revoke(token);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect((await introspect(token)).body).toEqual({ active: false });
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti;
    const rows = await server.db.query<{ client_id: string }>('SELECT client_id FROM revoked_tokens WHERE jti = $1', [jti]);
    expect(rows).toEqual([{ client_id: owner.client_id }]);
  });

  it("answers 200 for unknown tokens and leaves other clients' tokens alone", async () => {
    expect((await revoke('unknown-token')).status).toBe(200);
    const theirs = await issue(other);
    expect((await revoke(theirs, owner)).status).toBe(200);
    expect((await introspect(theirs, other)).body.active).toBe(true);
  });

  it('requires the token parameter', async () => {
    for (const path of ['/introspect', '/revoke']) {
      const res = await postForm(server, path, {}, auth(owner));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
  });

  it('requires client authentication', async () => {
    const token = await issue();
    for (const path of ['/introspect', '/revoke']) {
      const res = await postForm(server, path, { token });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
  });

  it("treats a token whose client was deleted as inactive", async () => {
    const doomed = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
    const token = await issue(doomed);
    expect((await request(server, 'DELETE', `/register/${doomed.client_id}`, { token: doomed.registration_access_token })).status).toBe(204);
    // the deleted client cannot ask any more; a replica's domain function is asked directly
    const { introspectAccessToken } = await import('../../src/tokens/access-tokens.js');
    const { ClientRepository, DEFAULT_SETTINGS } = await import('../../src/storage/client-repository.js');
    const { RevocationRepository } = await import('../../src/storage/revocation-repository.js');
    const { ReferenceTokenRepository } = await import('../../src/storage/reference-token-repository.js');
    const { ServerKeyRepository } = await import('../../src/storage/server-key-repository.js');
    const { createSecretBox } = await import('../../src/crypto/secret-box.js');
    const keys = new ServerKeys(new ServerKeyRepository(server.db), createSecretBox(server.config.secretsKeys), { algs: server.config.signingKeys.algs, activationDelaySeconds: 600, rotationIntervalSeconds: 0, retentionSeconds: 330 }, () => Math.floor(Date.now() / 1000));
    await keys.start();
    const deps = { keys, signingAlg: 'ES256' as const, clients: new ClientRepository(server.db), revocations: new RevocationRepository(server.db), references: new ReferenceTokenRepository(server.db), issuer: server.config.issuer, audience: server.config.issuer, resourceIndicators: [], lifetimeSeconds: 2, format: 'jwt' as const, now: () => Math.floor(Date.now() / 1000) };
    expect(await introspectAccessToken(deps, token, { clientId: doomed.client_id, settings: DEFAULT_SETTINGS })).toEqual({ active: false });
    const live = await issue();
    expect((await introspectAccessToken(deps, live, { clientId: owner.client_id, settings: DEFAULT_SETTINGS })).active).toBe(true);
  });
});
