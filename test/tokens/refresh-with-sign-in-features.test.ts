import { compactDecrypt, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACR_PASSWORD_PROTECTED_TRANSPORT } from '../../src/protocol/acr.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { CodeFlow, type RegisteredClient } from '../support/code-flow.js';
import { createUser } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const REFRESHING = { grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email phone offline_access' };

/**
 * A refresh repeats the sign-in it comes from (OpenID Connect Core §12.2): the features that shape
 * the code exchange's tokens — pairwise subjects, the claims parameter, acr, encrypted ID tokens —
 * shape every refresh of it the same way.
 */
describe(`refresh tokens with pairwise subjects, claims and encrypted ID tokens (${storageKind})`, () => {
  let server: TestServer;
  let flow: CodeFlow;
  let aliceId: string;

  beforeAll(async () => {
    server = await startTestServer();
    flow = new CodeFlow(server);
    aliceId = await createUser(server, 'alice', PASSWORD);
    const admin = await adminToken(server, await bootstrapAdmin(server));
    const patched = await request(server, 'PATCH', `/admin/users/${aliceId}`, {
      token: admin,
      body: JSON.stringify({ email: 'alice@example.com', email_verified: true, phone_number: '+15550100' }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(patched.status, patched.text).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function signInAndRefresh(client: RegisteredClient, extra: readonly (readonly [string, string])[] = []) {
    const visitor = await flow.signedIn('alice', PASSWORD);
    const exchanged = await flow.exchange(client, await flow.codeFor(visitor, client, extra));
    expect(exchanged.status, exchanged.text).toBe(200);
    const refreshed = await flow.refresh(client, exchanged.body.refresh_token as string);
    expect(refreshed.status, refreshed.text).toBe(200);
    return { exchanged: exchanged.body as Record<string, string>, refreshed: refreshed.body as Record<string, string> };
  }

  it('a pairwise client gets its pairwise sub from the refresh too: ID token, access token, introspection and UserInfo', async () => {
    const client = await flow.register({ ...REFRESHING, subject_type: 'pairwise' });
    const { exchanged, refreshed } = await signInAndRefresh(client);
    const sub = decodeJwt(exchanged.id_token!).sub!;
    expect(sub).not.toBe(aliceId);
    expect(decodeJwt(refreshed.id_token!).sub).toBe(sub);
    expect(decodeJwt(refreshed.access_token!).sub).toBe(sub);
    expect((await flow.introspect(client, refreshed.refresh_token!)).body).toMatchObject({ active: true, token_type: 'refresh_token', sub });
    expect((await request(server, 'GET', '/userinfo', { token: refreshed.access_token! })).body.sub).toBe(sub);
  });

  it('the claims request carries over: acr and the requested id_token claims in the new ID token, the userinfo claims at UserInfo', async () => {
    const client = await flow.register(REFRESHING);
    const claims = JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { phone_number: null } });
    const { refreshed } = await signInAndRefresh(client, [['claims', claims]]);
    const idToken = decodeJwt(refreshed.id_token!);
    expect(idToken).toMatchObject({ sub: aliceId, email: 'alice@example.com', acr: ACR_PASSWORD_PROTECTED_TRANSPORT });
    expect(idToken).not.toHaveProperty('nonce');
    const info = await request(server, 'GET', '/userinfo', { token: refreshed.access_token! });
    expect(info.body).toMatchObject({ sub: aliceId, phone_number: '+15550100' });
  });

  it('a client that registered id_token_encrypted_response_alg gets the refreshed ID token encrypted to its key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RSA-OAEP-256', { extractable: true });
    const client = await flow.register({
      ...REFRESHING,
      id_token_encrypted_response_alg: 'RSA-OAEP-256',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), use: 'enc', kid: 'enc-1' }] },
    });
    const { refreshed } = await signInAndRefresh(client);
    expect(decodeProtectedHeader(refreshed.id_token!)).toMatchObject({ alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256', cty: 'JWT', kid: 'enc-1' });
    const inner = new TextDecoder().decode((await compactDecrypt(refreshed.id_token!, privateKey)).plaintext);
    expect(decodeJwt(inner)).toMatchObject({ sub: aliceId, aud: client.client_id });
  });
});
