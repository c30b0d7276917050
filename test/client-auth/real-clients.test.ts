import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
} from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

/**
 * Real OAuth client libraries, as peers: every client authentication method, through each
 * library's own functions, against a real server on a real port. What they send is theirs, not
 * ours: if they change it, these tests say so.
 */

const REGISTERED_SCOPE = 'openid profile';
/** Within the registered scope. */
const NARROWER_SCOPE = 'profile';
/** Offered by the server, but not registered by these clients. */
const OUTSIDE_SCOPE = 'openid email';
/** The server's default ACCESS_TOKEN_LIFETIME. */
const TOKEN_LIFETIME = 300;

type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt';

interface MethodCase {
  name: string;
  method: AuthMethod;
  /** Pinned at registration as token_endpoint_auth_signing_alg. */
  alg?: string;
}

const METHOD_CASES: readonly MethodCase[] = [
  { name: 'client_secret_basic', method: 'client_secret_basic' },
  { name: 'client_secret_post', method: 'client_secret_post' },
  { name: 'client_secret_jwt HS256', method: 'client_secret_jwt', alg: 'HS256' },
  { name: 'client_secret_jwt HS384', method: 'client_secret_jwt', alg: 'HS384' },
  { name: 'client_secret_jwt HS512', method: 'client_secret_jwt', alg: 'HS512' },
  { name: 'private_key_jwt ES256', method: 'private_key_jwt', alg: 'ES256' },
  { name: 'private_key_jwt RS256', method: 'private_key_jwt', alg: 'RS256' },
  { name: 'private_key_jwt PS256', method: 'private_key_jwt', alg: 'PS256' },
  { name: 'private_key_jwt EdDSA', method: 'private_key_jwt', alg: 'EdDSA' },
  { name: 'private_key_jwt Ed25519 (RFC 9864)', method: 'private_key_jwt', alg: 'Ed25519' },
];

/** What both libraries call a client authentication: it adds credentials to one request. */
type ClientAuth = (as: oauth.AuthorizationServer, client: oauth.Client, body: URLSearchParams, headers: Headers) => void | Promise<void>;

/** A registered client and the credentials it authenticates with. */
interface Registered {
  clientId: string;
  clientSecret?: string;
  privateKey?: CryptoKey;
  kid?: string;
}

/** What a test does through a library, for one client. */
interface Session {
  token(scope?: string): Promise<oauth.TokenEndpointResponse>;
  introspect(token: string): Promise<oauth.IntrospectionResponse>;
  revoke(token: string): Promise<void>;
}

interface Library {
  name: string;
  ClientSecretBasic(secret: string): ClientAuth;
  ClientSecretPost(secret: string): ClientAuth;
  ClientSecretJwt(secret: string): ClientAuth;
  PrivateKeyJwt(key: oauth.PrivateKey, options?: oauth.ModifyAssertionOptions): ClientAuth;
  /** The library's error class for an OAuth error response body. */
  ResponseBodyError: typeof oauth.ResponseBodyError;
  /** The library's error class for a 401 with a WWW-Authenticate challenge, checked before the body. */
  WWWAuthenticateChallengeError: typeof oauth.WWWAuthenticateChallengeError;
  session(issuer: string, clientId: string, auth: ClientAuth): Promise<Session>;
}

/** The test server speaks plain http on loopback. */
const insecure = { [oauth.allowInsecureRequests]: true } as const;

const oauth4webapi: Library = {
  name: 'oauth4webapi',
  ClientSecretBasic: (secret) => oauth.ClientSecretBasic(secret),
  ClientSecretPost: (secret) => oauth.ClientSecretPost(secret),
  ClientSecretJwt: (secret) => oauth.ClientSecretJwt(secret),
  PrivateKeyJwt: (key, options) => oauth.PrivateKeyJwt(key, options),
  ResponseBodyError: oauth.ResponseBodyError,
  WWWAuthenticateChallengeError: oauth.WWWAuthenticateChallengeError,
  async session(issuer, clientId, auth) {
    const url = new URL(issuer);
    const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { ...insecure, algorithm: 'oidc' }));
    const client: oauth.Client = { client_id: clientId };
    return {
      token: async (scope) =>
        oauth.processClientCredentialsResponse(
          as,
          client,
          await oauth.clientCredentialsGrantRequest(as, client, auth, scope !== undefined ? { scope } : {}, insecure),
        ),
      introspect: async (token) => oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, insecure)),
      revoke: async (token) => oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token, insecure)),
    };
  },
};

const openidClient: Library = {
  name: 'openid-client',
  ClientSecretBasic: (secret) => openid.ClientSecretBasic(secret),
  ClientSecretPost: (secret) => openid.ClientSecretPost(secret),
  ClientSecretJwt: (secret) => openid.ClientSecretJwt(secret),
  PrivateKeyJwt: (key, options) => openid.PrivateKeyJwt(key, options),
  ResponseBodyError: openid.ResponseBodyError,
  WWWAuthenticateChallengeError: openid.WWWAuthenticateChallengeError,
  async session(issuer, clientId, auth) {
    const config = await openid.discovery(new URL(issuer), clientId, undefined, auth, { execute: [openid.allowInsecureRequests] });
    return {
      token: (scope) => openid.clientCredentialsGrant(config, scope !== undefined ? { scope } : undefined),
      introspect: (token) => openid.tokenIntrospection(config, token),
      revoke: (token) => openid.tokenRevocation(config, token),
    };
  },
};

/**
 * Both libraries' ClientSecretJwt import the secret as an HMAC SHA-256 key and write alg HS256,
 * whatever the client registered. For HS384 and HS512 a client plugs its own ClientAuth into the
 * same library hook; this one makes the claims the library makes, signed with the pinned alg.
 */
function hmacClientAuth(secret: string, alg: 'HS384' | 'HS512'): ClientAuth {
  const key = new TextEncoder().encode(secret);
  return async (as, client, body) => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg })
      .setIssuer(client.client_id)
      .setSubject(client.client_id)
      .setAudience(as.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key);
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', assertion);
  };
}

/**
 * The libraries label an Ed25519 key with the fully-specified alg "Ed25519" (RFC 9864). A client
 * that pinned the polymorphic "EdDSA" gets what it registered through the libraries' documented
 * remapping; a client that pinned "Ed25519" needs none (its own case below).
 */
const remapEd25519: oauth.ModifyAssertionOptions = {
  [oauth.modifyAssertion]: (header) => {
    if (header.alg === 'Ed25519') header.alg = 'EdDSA';
  },
};

function clientAuthFor(library: Library, c: MethodCase, registered: Registered): ClientAuth {
  switch (c.method) {
    case 'client_secret_basic':
      return library.ClientSecretBasic(registered.clientSecret!);
    case 'client_secret_post':
      return library.ClientSecretPost(registered.clientSecret!);
    case 'client_secret_jwt':
      return c.alg === 'HS256' ? library.ClientSecretJwt(registered.clientSecret!) : hmacClientAuth(registered.clientSecret!, c.alg as 'HS384' | 'HS512');
    case 'private_key_jwt':
      return library.PrivateKeyJwt({ key: registered.privateKey!, kid: registered.kid! }, c.alg === 'EdDSA' ? remapEd25519 : undefined);
  }
}

/** Wraps a ClientAuth so a test can see what it added to the last request. */
function recording(auth: ClientAuth): { auth: ClientAuth; sent: { body?: URLSearchParams; headers?: Headers } } {
  const sent: { body?: URLSearchParams; headers?: Headers } = {};
  return {
    sent,
    auth: async (as, client, body, headers) => {
      await auth(as, client, body, headers);
      sent.body = new URLSearchParams(body);
      sent.headers = new Headers(headers);
    },
  };
}

/** Registers a machine client over HTTP, making a key pair for private_key_jwt. */
async function registerClient(server: TestServer, c: MethodCase): Promise<Registered> {
  const metadata: Record<string, unknown> = {
    client_name: `${c.name} client`,
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: c.method,
    scope: REGISTERED_SCOPE,
    ...(c.alg !== undefined ? { token_endpoint_auth_signing_alg: c.alg } : {}),
  };
  let privateKey: CryptoKey | undefined;
  let kid: string | undefined;
  if (c.method === 'private_key_jwt') {
    const pair = await generateKeyPair(c.alg!);
    privateKey = pair.privateKey;
    kid = `${c.alg}-${crypto.randomUUID()}`;
    metadata.jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid, use: 'sig', alg: c.alg }] };
  }
  const created = await request(server, 'POST', '/register', { json: metadata });
  expect(created.status, created.text).toBe(201);
  expect(created.body.token_endpoint_auth_method).toBe(c.method);
  return {
    clientId: created.body.client_id as string,
    ...(typeof created.body.client_secret === 'string' ? { clientSecret: created.body.client_secret as string } : {}),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(kid !== undefined ? { kid } : {}),
  };
}

/**
 * A refused client authentication as the library reports it. The server answers 401 with a Basic
 * challenge (RFC 6749 §5.2); both libraries check challenges before the body, so the error is a
 * WWWAuthenticateChallengeError and the invalid_client body stays on its response.
 */
async function expectInvalidClient(library: Library, error: unknown, issuer: string): Promise<void> {
  expect(error).toBeInstanceOf(library.WWWAuthenticateChallengeError);
  const challenge = error as oauth.WWWAuthenticateChallengeError;
  expect(challenge.status).toBe(401);
  expect(challenge.cause).toEqual([expect.objectContaining({ scheme: 'basic', parameters: expect.objectContaining({ realm: issuer }) })]);
  expect(await challenge.response.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
}

/** The error a library call failed with, or a test failure if it did not fail. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected an error, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

describe.each([oauth4webapi, openidClient])(`$name as a client_credentials client (${storageKind})`, (library) => {
  let server: TestServer;
  let issuer: string;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    server = await startTestServer();
    issuer = server.config.issuer;
    jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  });
  afterAll(async () => server?.close());

  /** Verifies an access token against the server's published keys, as a resource server would. */
  async function verifyAccessToken(token: string, clientId: string, scope: string) {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience: issuer,
      subject: clientId,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'jti', 'client_id'],
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(protectedHeader.kid).toBeTypeOf('string');
    expect(payload.iss).toBe(issuer);
    expect(payload.aud).toBe(issuer);
    expect(payload.sub).toBe(clientId);
    expect(payload.client_id).toBe(clientId);
    expect(payload.exp! - payload.iat!).toBe(TOKEN_LIFETIME);
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(payload.scope).toBe(scope);
    return payload;
  }

  describe.each(METHOD_CASES)('$name', (c) => {
    let registered: Registered;
    let session: Session;

    beforeAll(async () => {
      registered = await registerClient(server, c);
      session = await library.session(issuer, registered.clientId, clientAuthFor(library, c, registered));
    });

    it('gets an access token for the whole registered scope, verifiable against /jwks', async () => {
      const issued = await session.token();
      expect(issued.token_type).toBe('bearer');
      expect(issued.expires_in).toBe(TOKEN_LIFETIME);
      expect(issued.scope).toBe(REGISTERED_SCOPE);
      await verifyAccessToken(issued.access_token, registered.clientId, REGISTERED_SCOPE);
    });

    it('gets exactly a narrower scope when it asks for one', async () => {
      const issued = await session.token(NARROWER_SCOPE);
      expect(issued.scope).toBe(NARROWER_SCOPE);
      await verifyAccessToken(issued.access_token, registered.clientId, NARROWER_SCOPE);
    });

    it('gets invalid_scope, as the library error, for a scope it did not register', async () => {
      const error = await failure(session.token(OUTSIDE_SCOPE));
      expect(error).toBeInstanceOf(library.ResponseBodyError);
      const body = error as oauth.ResponseBodyError;
      expect(body.error).toBe('invalid_scope');
      expect(body.status).toBe(400);
      expect(body.error_description).toContain('email');
    });

    it('introspects the token, revokes it, and then sees it inactive', async () => {
      const issued = await session.token();
      const claims = decodeJwt(issued.access_token);

      const active = await session.introspect(issued.access_token);
      expect(active).toMatchObject({
        active: true,
        client_id: registered.clientId,
        sub: registered.clientId,
        iss: issuer,
        scope: REGISTERED_SCOPE,
        exp: claims.exp,
        jti: claims.jti,
        token_type: 'Bearer',
      });

      await expect(session.revoke(issued.access_token)).resolves.toBeUndefined();
      expect(await session.introspect(issued.access_token)).toEqual({ active: false });

      // a revoked token is just that one: the client still gets new ones
      const next = await session.token(NARROWER_SCOPE);
      expect(await session.introspect(next.access_token)).toMatchObject({ active: true, scope: NARROWER_SCOPE });
    });
  });

  describe('what the library sends by default', () => {
    it.each([
      { name: 'ClientSecretJwt', alg: 'HS256' },
      { name: 'PrivateKeyJwt (ES256 key)', alg: 'ES256' },
    ])('$name: aud is the issuer alone, exp 60 s after iat, a jti, no typ', async ({ alg }) => {
      const c: MethodCase = alg === 'HS256'
        ? { name: 'default HS256', method: 'client_secret_jwt' }
        : { name: 'default ES256', method: 'private_key_jwt', alg };
      const registered = await registerClient(server, c);
      const { auth, sent } = recording(
        c.method === 'client_secret_jwt'
          ? library.ClientSecretJwt(registered.clientSecret!)
          : library.PrivateKeyJwt({ key: registered.privateKey!, kid: registered.kid! }),
      );
      const session = await library.session(issuer, registered.clientId, auth);
      const issued = await session.token();
      expect(issued.scope).toBe(REGISTERED_SCOPE);

      const assertion = sent.body?.get('client_assertion');
      expect(assertion).toBeTypeOf('string');
      expect(sent.body?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(sent.body?.get('client_id')).toBe(registered.clientId);
      expect(sent.headers?.has('authorization')).toBe(false);
      const header = decodeProtectedHeader(assertion!);
      expect(header.alg).toBe(alg);
      expect(header.typ).toBeUndefined();
      const claims = decodeJwt(assertion!);
      expect(claims.aud).toBe(issuer); // a string, not an array, and not the token endpoint URL
      expect(claims.iss).toBe(registered.clientId);
      expect(claims.sub).toBe(registered.clientId);
      expect(claims.exp! - claims.iat!).toBe(60);
      expect(claims.nbf).toBe(claims.iat);
      expect(claims.jti).toBeTypeOf('string');

      // a fresh jti on every request, so the replay check never trips on a library client
      await session.token();
      expect(decodeJwt(sent.body!.get('client_assertion')!).jti).not.toBe(claims.jti);
    });

    it('ClientSecretBasic: form-urlencoded id and secret in the Authorization header, nothing in the body', async () => {
      const registered = await registerClient(server, { name: 'default basic', method: 'client_secret_basic' });
      const { auth, sent } = recording(library.ClientSecretBasic(registered.clientSecret!));
      const session = await library.session(issuer, registered.clientId, auth);
      await session.token();
      const basic = sent.headers?.get('authorization');
      expect(basic).toMatch(/^Basic /);
      // RFC 6749 §2.3.1: each part form-urlencoded first, so "-" and "_" of our ids arrive escaped
      const [id, secret] = Buffer.from(basic!.slice('Basic '.length), 'base64').toString('utf8').split(':');
      const formDecode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
      expect(formDecode(id!)).toBe(registered.clientId);
      expect(formDecode(secret!)).toBe(registered.clientSecret);
      expect(sent.body?.has('client_secret')).toBe(false);
      expect(sent.body?.has('client_assertion')).toBe(false);
    });

    it('PrivateKeyJwt labels an Ed25519 key "Ed25519"; a client that pinned "EdDSA" is held to it', async () => {
      const registered = await registerClient(server, { name: 'default Ed25519', method: 'private_key_jwt', alg: 'EdDSA' });
      const { auth, sent } = recording(library.PrivateKeyJwt({ key: registered.privateKey!, kid: registered.kid! }));
      const session = await library.session(issuer, registered.clientId, auth);
      const error = await failure(session.token());
      expect(decodeProtectedHeader(sent.body!.get('client_assertion')!).alg).toBe('Ed25519');
      // the registered token_endpoint_auth_signing_alg is compared exactly
      await expectInvalidClient(library, error, issuer);
    });

    it.each(['HS384', 'HS512'])('ClientSecretJwt signs HS256 only: a client pinned to %s is refused invalid_client', async (alg) => {
      const registered = await registerClient(server, { name: `pinned ${alg}`, method: 'client_secret_jwt', alg });
      const { auth, sent } = recording(library.ClientSecretJwt(registered.clientSecret!));
      const session = await library.session(issuer, registered.clientId, auth);
      const error = await failure(session.token());
      expect(decodeProtectedHeader(sent.body!.get('client_assertion')!).alg).toBe('HS256');
      await expectInvalidClient(library, error, issuer);
    });
  });
});
