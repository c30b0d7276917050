import { KeyObject, sign } from 'node:crypto';
import { Writable } from 'node:stream';
import { CompactEncrypt, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';
import { advanceWallClock } from '../support/clock.js';
import {
  assertion,
  assertionParams,
  basic,
  keyPair,
  postForm,
  registerMachineClient,
  type AssertionOptions,
  type KeyPair,
} from '../support/client-auth.js';

/**
 * Every rule of JWT client authentication (RFC 7523 §3, RFC 10070, RFC 8725, OIDC Core §9) as a
 * named case: a refusal is 401 invalid_client with a Basic challenge and a generic description.
 */
describe(`client authentication rules (${storageKind})`, () => {
  let server: TestServer;
  let issuer: string;
  let es256: KeyPair;
  let pkClient: Record<string, any>; // private_key_jwt, ES256 pinned
  let hsClient: Record<string, any>; // client_secret_jwt, HS256 pinned
  let basicClient: Record<string, any>; // client_secret_basic

  // the precise reason of each refusal is only in the server log: read it from there
  let logged = '';
  const logStream = new Writable({ write: (chunk: Buffer, _e, done) => ((logged += chunk.toString()), done()) });
  const lastReason = (requestId: string | null): string => {
    const line = logged.split('\n').find((l) => l.includes(`"reqId":"${requestId}"`) && l.includes('"reason"'));
    return line ? (JSON.parse(line) as { reason: string }).reason : '(no reason logged)';
  };

  beforeAll(async () => {
    server = await startTestServer({}, createLogger('info', logStream));
    issuer = server.config.issuer;
    es256 = await keyPair('ES256');
    pkClient = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [es256.publicJwk] } });
    hsClient = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' });
    basicClient = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
  });
  afterAll(async () => server.close());

  const pk = (overrides: Partial<AssertionOptions> = {}) =>
    assertion({ clientId: pkClient.client_id, audience: issuer, key: es256.privateKey, alg: 'ES256', kid: es256.kid, ...overrides });
  const hs = (overrides: Partial<AssertionOptions> = {}) =>
    assertion({ clientId: hsClient.client_id, audience: issuer, key: new TextEncoder().encode(hsClient.client_secret), alg: 'HS256', ...overrides });
  const token = (params: Record<string, string>, headers: Record<string, string> = {}) => postForm(server, '/token', params, headers);

  async function expectRefused(res: Awaited<ReturnType<typeof token>>, reason?: string) {
    expect(res.status).toBe(401);
    if (reason !== undefined) expect(lastReason(res.headers.get('x-request-id'))).toContain(reason);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    expect(res.headers.get('www-authenticate')).toBe(`Basic realm="${issuer}"`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  }

  describe('accepted', () => {
    it.each([
      ['private_key_jwt, ES256', () => pk()],
      ['client_secret_jwt, HS256', () => hs()],
      ['typ client-authentication+jwt (RFC 10070)', () => pk({ header: { typ: 'client-authentication+jwt' } })],
      ['typ JWT', () => pk({ header: { typ: 'JWT' } })],
      ['iat 8 s ahead, within the clock skew', () => pk({ claims: { iat: Math.floor(Date.now() / 1000) + 8 } })],
      ['nbf 8 s ahead, within the clock skew', () => pk({ claims: { nbf: Math.floor(Date.now() / 1000) + 8 } })],
      ['aud as an array holding only the issuer', () => pk({ audience: [issuer] })],
      ['no iat at all (optional in RFC 7523)', () => pk({ claims: { iat: undefined } })],
      ['exp at the maximum lifetime', () => pk({ claims: { exp: Math.floor(Date.now() / 1000) + 300 } })],
    ])('%s', async (_name, make) => {
      const res = await token(assertionParams(await make()));
      expect(res.status, res.text).toBe(200);
      expect(res.body.token_type).toBe('Bearer');
    });

    it('with a matching client_id parameter', async () => {
      const res = await token(assertionParams(await pk(), { client_id: pkClient.client_id }));
      expect(res.status).toBe(200);
    });
  });

  describe('refused', () => {
    it('replay: the same assertion twice', async () => {
      const jwt = await pk();
      expect((await token(assertionParams(jwt))).status).toBe(200);
      await expectRefused(await token(assertionParams(jwt)));
    });

    it('replay: 50 concurrent uses of one assertion, exactly one succeeds', async () => {
      const jwt = await pk();
      const results = await Promise.all(Array.from({ length: 50 }, () => token(assertionParams(jwt))));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 401)).toHaveLength(49);
    });

    it('replay: a client_secret_jwt assertion too', async () => {
      const jwt = await hs();
      expect((await token(assertionParams(jwt))).status).toBe(200);
      await expectRefused(await token(assertionParams(jwt)));
    });

    it.each([
      ['wrong aud', 'aud is not the issuer', () => pk({ audience: 'https://someone-else.example' })],
      ['token endpoint as aud', 'aud is an endpoint URL', () => pk({ audience: `${issuer}/token` })],
      ['aud array with the issuer and another value', 'aud is not the issuer', () => pk({ audience: [issuer, 'https://other.example'] })],
      ['no aud', 'aud is not the issuer', () => pk({ audience: undefined })],
      ['expired', 'expired', () => pk({ claims: { exp: Math.floor(Date.now() / 1000) - 300 } })],
      ['no exp', 'exp is missing', () => pk({ claims: { exp: undefined } })],
      ['exp not a number', 'exp is missing', () => pk({ claims: { exp: 'tomorrow' } })],
      ['far-future exp', 'more than the 300 s allowed', () => pk({ claims: { exp: Math.floor(Date.now() / 1000) + 3600 } })],
      ['future iat, minutes ahead', 'iat is in the future', () => pk({ claims: { iat: Math.floor(Date.now() / 1000) + 300 } })],
      ['future nbf, minutes ahead', 'nbf is in the future', () => pk({ claims: { nbf: Math.floor(Date.now() / 1000) + 300 } })],
      ['no jti', 'jti is missing', () => pk({ claims: { jti: undefined } })],
      ['empty jti', 'jti is missing', () => pk({ claims: { jti: '' } })],
      ['iss not the client', 'iss is not the client id', () => pk({ claims: { iss: 'someone-else' } })],
      ['sub not the client', 'sub is not the client id', () => pk({ claims: { sub: 'someone-else' } })],
      ['unknown crit header', 'critical', async () => {
        // jose will not even sign with an unknown critical extension, so sign by hand
        const now = Math.floor(Date.now() / 1000);
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const input = `${enc({ alg: 'ES256', kid: es256.kid, crit: ['urn:example:ext'], 'urn:example:ext': true })}.${enc({ iss: pkClient.client_id, sub: pkClient.client_id, aud: issuer, exp: now + 60, jti: 'crit-1' })}`;
        const signature = sign('sha256', Buffer.from(input), { key: KeyObject.from(es256.privateKey), dsaEncoding: 'ieee-p1363' });
        return `${input}.${signature.toString('base64url')}`;
      }],
      ['typ of another token (at+jwt)', 'typ', () => pk({ header: { typ: 'at+jwt' } })],
      ['alg differs from the registered token_endpoint_auth_signing_alg', 'differs from the registered', async () => {
        const es384 = await keyPair('ES384', es256.kid);
        return assertion({ clientId: pkClient.client_id, audience: issuer, key: es384.privateKey, alg: 'ES384', kid: es256.kid });
      }],
      ['signed by a key the client never registered', 'signature does not verify', async () => {
        const stranger = await keyPair('ES256', es256.kid);
        return assertion({ clientId: pkClient.client_id, audience: issuer, key: stranger.privateKey, alg: 'ES256', kid: es256.kid });
      }],
      ['kid the client never registered', 'no registered key matches', async () => {
        const stranger = await keyPair('ES256', 'unknown-kid');
        return assertion({ clientId: pkClient.client_id, audience: issuer, key: stranger.privateKey, alg: 'ES256', kid: 'unknown-kid' });
      }],
      ['HS256 keyed with the client\'s public key (alg confusion)', 'alg HS256 is not allowed for private_key_jwt', async () => {
        const publicBytes = new TextEncoder().encode(JSON.stringify(es256.publicJwk));
        return assertion({ clientId: pkClient.client_id, audience: issuer, key: publicBytes, alg: 'HS256', kid: es256.kid });
      }],
      ['alg none', 'alg none is not allowed', async () => {
        const now = Math.floor(Date.now() / 1000);
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return `${enc({ alg: 'none' })}.${enc({ iss: pkClient.client_id, sub: pkClient.client_id, aud: issuer, exp: now + 60, jti: 'none-1' })}.`;
      }],
      ['JWE instead of JWS', 'JWE', async () => {
        const rsa = await keyPair('RSA-OAEP-256');
        const key = await importJWK(rsa.publicJwk, 'RSA-OAEP-256');
        return new CompactEncrypt(new TextEncoder().encode(await pk())).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(key);
      }],
      ['garbage', 'header is not valid', async () => 'not.a.jwt'],
      ['two segments', 'not a compact JWS', async () => 'eyJhbGciOiJFUzI1NiJ9.e30'],
      ['oversized assertion', 'longer than', () => pk({ claims: { padding: 'x'.repeat(10_000) } })],
    ])('%s', async (_name, reason, make) => {
      // client_id is sent so that even an unreadable assertion reaches the check named
      await expectRefused(await token(assertionParams(await make(), { client_id: pkClient.client_id })), reason);
    });

    it('an unreadable assertion without client_id names no client', async () => {
      await expectRefused(await token(assertionParams('not.a.jwt')), 'names no client');
    });

    it('client_secret_jwt: asymmetric alg', async () => {
      const jwt = await assertion({ clientId: hsClient.client_id, audience: issuer, key: es256.privateKey, alg: 'ES256' });
      await expectRefused(await token(assertionParams(jwt)));
    });

    it('client_secret_jwt: signed with a wrong secret', async () => {
      await expectRefused(await token(assertionParams(await hs({ key: new TextEncoder().encode('x'.repeat(86)) }))));
    });

    it('client_id parameter differs from the assertion', async () => {
      // a second client holding the same key: only the identifiers differ
      const twin = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [es256.publicJwk] } });
      await expectRefused(await token(assertionParams(await pk({ claims: { jti: 'twin-1' } }), { client_id: twin.client_id })), 'iss is not the client id');
    });

    it('unknown client', async () => {
      const jwt = await assertion({ clientId: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', audience: issuer, key: es256.privateKey, alg: 'ES256', kid: es256.kid });
      await expectRefused(await token(assertionParams(jwt)), 'unknown client');
    });

    it('replay after exp, while the clock skew still admits the assertion', async () => {
      const jwt = await pk({ claims: { exp: Math.floor(Date.now() / 1000) - 5 } });
      expect((await token(assertionParams(jwt))).status).toBe(200); // within the 30 s skew
      await expectRefused(await token(assertionParams(jwt)), 'jti has been used before');
      const concurrent = await pk({ claims: { exp: Math.floor(Date.now() / 1000) - 3 } });
      const results = await Promise.all(Array.from({ length: 20 }, () => token(assertionParams(concurrent))));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      // the used id is kept until exp + skew, so the purge cannot reopen the window
      const [row] = await server.db.query<{ expires_at: string | number }>('SELECT expires_at FROM client_assertion_jtis WHERE jti = $1', [
        JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).jti,
      ]);
      expect(Number(row!.expires_at)).toBe(JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).exp + 30);
    });

    it('a jti with a NUL or control character → 401, not 500', async () => {
      await expectRefused(await token(assertionParams(await pk({ claims: { jti: 'a\u0000b' } }))), 'printable');
      await expectRefused(await token(assertionParams(await pk({ claims: { jti: 'a\nb' } }))), 'printable');
    });

    it('deleted client', async () => {
      const doomed = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [es256.publicJwk] } });
      const make = () => assertion({ clientId: doomed.client_id, audience: issuer, key: es256.privateKey, alg: 'ES256', kid: es256.kid });
      expect((await token(assertionParams(await make()))).status).toBe(200);
      const deleted = await request(server, 'DELETE', `/register/${doomed.client_id}`, { token: doomed.registration_access_token });
      expect(deleted.status).toBe(204);
      await expectRefused(await token(assertionParams(await make())), 'unknown client');
    });

    it('wrong method for the client: a secret where it registered private_key_jwt', async () => {
      await expectRefused(await token({ grant_type: 'client_credentials' }, { authorization: basic(pkClient.client_id, 'guess') }), 'registered private_key_jwt but used client_secret_basic');
    });

    it('wrong method for the client: an assertion where it registered client_secret_basic', async () => {
      const jwt = await assertion({ clientId: basicClient.client_id, audience: issuer, key: new TextEncoder().encode(basicClient.client_secret), alg: 'HS256' });
      await expectRefused(await token(assertionParams(jwt)), 'registered client_secret_basic but sent a JWT assertion');
    });

    it('client_assertion_type other than jwt-bearer', async () => {
      await expectRefused(await token({ ...assertionParams(await pk()), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }));
    });

    it('no client authentication at all', async () => {
      await expectRefused(await token({ grant_type: 'client_credentials' }));
    });

    it('client_secret_basic with a wrong secret', async () => {
      await expectRefused(await token({ grant_type: 'client_credentials' }, { authorization: basic(basicClient.client_id, `${basicClient.client_secret}x`) }));
    });

    it.each([
      ['Bearer instead of Basic', 'Bearer abc'],
      ['Basic without a colon', `Basic ${Buffer.from('nocolon').toString('base64')}`],
      ['Basic with broken percent-encoding', `Basic ${Buffer.from('%zz:%zz').toString('base64')}`],
      ['Basic that is not base64', 'Basic !!!'],
    ])('malformed Authorization: %s → 401, never 500', async (_name, authorization) => {
      await expectRefused(await token({ grant_type: 'client_credentials' }, { authorization }));
    });
  });

  describe('request shape', () => {
    it('two methods at once → 400 invalid_request', async () => {
      const res = await token(assertionParams(await hs()), { authorization: basic(hsClient.client_id, hsClient.client_secret) });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('a parameter sent twice → 400 invalid_request', async () => {
      const res = await request(server, 'POST', '/token', {
        body: 'grant_type=client_credentials&grant_type=client_credentials',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(basicClient.client_id, basicClient.client_secret) },
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('a JSON body → 415', async () => {
      const res = await request(server, 'POST', '/token', { json: { grant_type: 'client_credentials' } });
      expect(res.status).toBe(415);
    });
  });

  describe('the grant', () => {
    const withBasic = (params: Record<string, string>, client = basicClient) => token(params, { authorization: basic(client.client_id, client.client_secret) });

    it('issues an RFC 9068 access token with the registered scope', async () => {
      const res = await withBasic({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'openid profile' });
      const [header, payload] = (res.body.access_token as string).split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
      expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
      expect(payload).toMatchObject({ iss: issuer, sub: basicClient.client_id, client_id: basicClient.client_id, aud: issuer, scope: 'openid profile' });
      expect(payload.exp - payload.iat).toBe(300);
      expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });

    it('narrows to a requested subset of the scope', async () => {
      const res = await withBasic({ grant_type: 'client_credentials', scope: 'profile' });
      expect(res.body.scope).toBe('profile');
    });

    it('refuses a scope outside the registered one: invalid_scope', async () => {
      const res = await withBasic({ grant_type: 'client_credentials', scope: 'openid email' });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_scope');
    });

    it('refuses grant types not served here: unsupported_grant_type', async () => {
      for (const grantType of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code']) {
        const res = await withBasic({ grant_type: grantType });
        expect([res.status, res.body.error], grantType).toEqual([400, 'unsupported_grant_type']);
      }
    });

    it.each([['authorization_code', { code: 'x' }], ['refresh_token', { refresh_token: 'x' }]])('refuses %s from a client not registered for it: unauthorized_client', async (grantType, params) => {
      const res = await withBasic({ grant_type: grantType, ...params });
      expect([res.status, res.body.error]).toEqual([400, 'unauthorized_client']);
    });

    it('refuses a missing grant_type: invalid_request', async () => {
      const res = await withBasic({});
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('refuses a client not registered for client_credentials: unauthorized_client', async () => {
      const rp = (await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).body;
      const res = await withBasic({ grant_type: 'client_credentials' }, rp);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('unauthorized_client');
    });

    it('takes client_secret_post', async () => {
      const post = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_post' });
      const res = await token({ grant_type: 'client_credentials', client_id: post.client_id, client_secret: post.client_secret });
      expect(res.status).toBe(200);
      await expectRefused(await token({ grant_type: 'client_credentials', client_id: post.client_id, client_secret: 'wrong' }));
    });
  });
});

describe(`client authentication options (${storageKind})`, () => {
  it('admits the token endpoint as aud and long assertions only behind the legacy switches', async () => {
    const server = await startTestServer({ CLIENT_ASSERTION_ACCEPT_ENDPOINT_AUDIENCE: 'true', CLIENT_ASSERTION_MAX_LIFETIME: '3600' });
    try {
      const key = await keyPair('RS256');
      const client = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
      const now = Math.floor(Date.now() / 1000);
      // what Python Authlib 1.2 sends by default: the token endpoint as aud, one hour of life
      const jwt = await assertion({ clientId: client.client_id, audience: `${server.config.issuer}/token`, key: key.privateKey, alg: 'RS256', kid: key.kid, claims: { exp: now + 3600 } });
      expect((await postForm(server, '/token', assertionParams(jwt))).status).toBe(200);
      const foreign = await assertion({ clientId: client.client_id, audience: 'https://other.example/token', key: key.privateKey, alg: 'RS256', kid: key.kid });
      expect((await postForm(server, '/token', assertionParams(foreign))).status).toBe(401);
      // still one audience only: a list that merely contains ours is audience injection
      const injected = await assertion({ clientId: client.client_id, audience: ['https://evil.example', `${server.config.issuer}/token`], key: key.privateKey, alg: 'RS256', kid: key.kid });
      expect((await postForm(server, '/token', assertionParams(injected))).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('refuses a client whose secret has expired', async () => {
    const server = await startTestServer({ CLIENT_SECRET_TTL: '1' });
    try {
      const client = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
      const auth = { authorization: basic(client.client_id, client.client_secret) };
      advanceWallClock(2_100);
      const res = await postForm(server, '/token', { grant_type: 'client_credentials' }, auth);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    } finally {
      await server.close();
    }
  });

  it('an HS512 client_secret_jwt works with the full 512-bit secret', async () => {
    const server = await startTestServer();
    try {
      const client = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS512' });
      expect(Buffer.from(client.client_secret, 'base64url').length).toBe(64);
      const jwt = await new SignJWT({ jti: 'hs512-1' })
        .setProtectedHeader({ alg: 'HS512' })
        .setIssuer(client.client_id)
        .setSubject(client.client_id)
        .setAudience(server.config.issuer)
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(client.client_secret));
      expect((await postForm(server, '/token', assertionParams(jwt))).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
