import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  compactDecrypt,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { CONTENT_ENCRYPTION_ALGS, KEY_MANAGEMENT_ALGS } from '../../src/protocol/algorithms.js';
import { basic, postForm } from '../support/client-auth.js';
import { advanceWallClock } from '../support/clock.js';
import { KeyServer } from '../support/key-server.js';
import { createUser, csrfTokenOf, Visitor, type PageResponse } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

const PASSWORD = 'correct horse battery';
const REDIRECT = 'https://rp.example/cb';
const insecure = { execute: [oidc.allowInsecureRequests] };

type Client = { client_id: string; client_secret: string } & Record<string, unknown>;

/** A private key pair for decrypting, its public JWK as the client registers it. */
interface EncryptionKey {
  privateJwk: JWK;
  publicJwk: Record<string, unknown>;
}

async function encryptionKey(alg: string, options: { crv?: string } = {}): Promise<EncryptionKey> {
  const pair = await generateKeyPair(alg, { extractable: true, ...options });
  return { privateJwk: await exportJWK(pair.privateKey), publicJwk: await exportJWK(pair.publicKey) };
}

/** The private key for `alg`: one RSA or EC key serves several algorithms, each import fixed to one. */
const privateKeyFor = (key: EncryptionKey, alg: string) => importJWK(key.privateJwk, alg) as Promise<CryptoKey>;

/** OIDC Core §10.2, computed here independently of the server: left-most bits of SHA-2 of the secret. */
function secretKey(secret: string, bits: number): Uint8Array {
  const hash = bits <= 256 ? 'sha256' : bits <= 384 ? 'sha384' : 'sha512';
  return new Uint8Array(createHash(hash).update(secret, 'utf8').digest().subarray(0, bits / 8));
}
const SYMMETRIC_BITS: Record<string, number> = {
  A128KW: 128, A192KW: 192, A256KW: 256,
  'A128CBC-HS256': 256, 'A192CBC-HS384': 384, 'A256CBC-HS512': 512, A128GCM: 128, A192GCM: 192, A256GCM: 256,
};

describe(`encrypted ID tokens and signed or encrypted UserInfo responses (${storageKind})`, () => {
  let server: TestServer;
  let keys: KeyServer;
  let down: KeyServer;
  let aliceId: string;
  let visitor: Visitor;
  let rsa: EncryptionKey;
  let ec: EncryptionKey;
  let x25519: EncryptionKey;
  let serverKeys: ReturnType<typeof createLocalJWKSet>;
  /** The server's log, as JSON lines. */
  let log = '';

  const register = async (metadata: Record<string, unknown>): Promise<Client> => {
    const res = await request(server, 'POST', '/register', { json: { redirect_uris: [REDIRECT], scope: 'openid profile', ...metadata } });
    if (res.status !== 201) throw new Error(res.text);
    return res.body as Client;
  };

  /** Follows this server's own redirects; stops at a page or at the redirect to the client. */
  async function follow(first: PageResponse): Promise<PageResponse> {
    let res = first;
    for (let hops = 0; hops < 10 && res.location !== undefined && !res.location.startsWith(REDIRECT); hops++) {
      res = await visitor.get(res.location.startsWith('http') ? res.location.slice(server.url.length) : res.location);
    }
    return res;
  }

  /** Alice (signed in already) authorizes `url`, consenting if asked: the URL the client is sent back to. */
  async function authorize(url: URL): Promise<URL> {
    let res = await follow(await visitor.get(`${url.pathname}${url.search}`));
    if (res.status === 200 && res.text.includes('name="decision"')) {
      const handle = /name="request" value="([^"]+)"/.exec(res.text)![1]!;
      res = await follow(await visitor.post('/consent', { csrf_token: csrfTokenOf(res.text), request: handle, decision: 'allow' }));
    }
    expect(res.location, res.text).toMatch(/^https:\/\/rp\.example\/cb\?/);
    return new URL(res.location!);
  }

  /** The code flow driven by openid-client, the relying party library, from discovery to tokens. */
  async function openidClientFlow(client: Client, configure: (config: oidc.Configuration) => void = () => undefined) {
    const { client_id: clientId, client_secret: secret, ...metadata } = client;
    const config = await oidc.discovery(new URL(server.url), clientId, metadata as Partial<oidc.ClientMetadata>, oidc.ClientSecretBasic(secret), insecure);
    configure(config);
    const verifier = oidc.randomPKCECodeVerifier();
    const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce(), idTokenExpected: true };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid profile', state: checks.expectedState, nonce: checks.expectedNonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { config, tokens: await oidc.authorizationCodeGrant(config, await authorize(url), checks) };
  }

  /** A code for `client` (no PKCE, a confidential client), then the raw token request. */
  async function codeFor(client: Client): Promise<string> {
    const url = new URL(`${server.url}/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'openid profile', state: 's', nonce: 'n' }).toString();
    return (await authorize(url)).searchParams.get('code')!;
  }
  const exchange = (client: Client, code: string) =>
    postForm(server, '/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, { authorization: basic(client.client_id, client.client_secret) });

  /** A signed JWT of this server: verified against its published /jwks. */
  const verifyServerJwt = async (jwt: string, client: Client) =>
    (await jwtVerify(jwt, serverKeys, { issuer: server.config.issuer, audience: client.client_id })).payload;

  beforeAll(async () => {
    keys = await new KeyServer().start();
    down = await new KeyServer().start();
    down.status = 503;
    const logStream = new Writable({ write: (chunk: Buffer, _encoding, done) => void ((log += chunk.toString()), done()) });
    server = await startTestServer({ OUTBOUND_ALLOWED_HOSTS: `${keys.host},${down.host}` }, createLogger('info', logStream));
    aliceId = await createUser(server, 'alice', PASSWORD);
    visitor = new Visitor(server.url);
    expect((await visitor.signIn('alice', PASSWORD)).status).toBe(303);
    rsa = await encryptionKey('RSA-OAEP-256', { modulusLength: 2048 } as { crv?: string });
    ec = await encryptionKey('ECDH-ES', { crv: 'P-256' });
    x25519 = await encryptionKey('ECDH-ES', { crv: 'X25519' });
    serverKeys = createLocalJWKSet((await request(server, 'GET', '/jwks')).body as JSONWebKeySet);
  });
  afterAll(async () => {
    await server?.close();
    await keys?.stop();
    await down?.stop();
  });

  describe('ID tokens, signed then encrypted (OIDC Core §10.2)', () => {
    it('to an RSA-OAEP-256 key in jwks: openid-client decrypts and validates it in a full code flow', async () => {
      // the same public key under three kids: only the kid in the JWE header tells which was chosen
      const client = await register({
        id_token_encrypted_response_alg: 'RSA-OAEP-256',
        jwks: { keys: [
          { ...rsa.publicJwk, kid: 'for-rsa-oaep', use: 'enc', alg: 'RSA-OAEP' },
          { ...rsa.publicJwk, kid: 'no-alg', use: 'enc' },
          { ...rsa.publicJwk, kid: 'named', alg: 'RSA-OAEP-256' },
        ] },
      });
      expect(client.id_token_encrypted_response_enc).toBe('A128CBC-HS256');
      const key = await privateKeyFor(rsa, 'RSA-OAEP-256');
      const { tokens } = await openidClientFlow(client, (config) => {
        oidc.enableDecryptingResponses(config, ['A128CBC-HS256'], { key, kid: 'named' });
        oidc.enableNonRepudiationChecks(config);
      });
      expect(tokens.claims()).toMatchObject({ iss: server.config.issuer, sub: aliceId, aud: client.client_id, amr: ['pwd'] });
      // a nested JWT: a JWE whose header names the preferred key (its alg matches) and says JWT inside
      expect(tokens.id_token!.split('.')).toHaveLength(5);
      expect(decodeProtectedHeader(tokens.id_token!)).toEqual({ alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256', cty: 'JWT', kid: 'named' });
      const inner = new TextDecoder().decode((await compactDecrypt(tokens.id_token!, key)).plaintext);
      expect(decodeProtectedHeader(inner)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
      expect(await verifyServerJwt(inner, client)).toMatchObject({ sub: aliceId });
    });

    it('with ECDH-ES to a key served at jwks_uri: openid-client decrypts and validates it', async () => {
      const signing = await generateKeyPair('ES256', { extractable: true });
      keys.body = { keys: [
        { ...(await exportJWK(signing.publicKey)), kid: 'sig', use: 'sig' },
        { ...ec.publicJwk, kid: 'ec-enc', use: 'enc' },
      ] };
      const client = await register({ id_token_encrypted_response_alg: 'ECDH-ES', id_token_encrypted_response_enc: 'A256GCM', id_token_signed_response_alg: 'ES256', jwks_uri: keys.url('/ecdh') });
      const key = await privateKeyFor(ec, 'ECDH-ES');
      const { tokens } = await openidClientFlow(client, (config) => {
        oidc.enableDecryptingResponses(config, ['A256GCM'], { key, kid: 'ec-enc' });
        oidc.enableNonRepudiationChecks(config);
      });
      expect(tokens.claims()).toMatchObject({ sub: aliceId, aud: client.client_id });
      expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'JWT', kid: 'ec-enc' });
    });

    it.each([
      ['A256KW', 'A128CBC-HS256'],
      ['dir', 'A256CBC-HS512'],
      ['dir', 'A128GCM'],
    ])('with %s / %s, keyed from the client_secret (left-most bits of its SHA-2 hash)', async (alg, enc) => {
      const client = await register({ id_token_encrypted_response_alg: alg, id_token_encrypted_response_enc: enc });
      const res = await exchange(client, await codeFor(client));
      expect(res.status, res.text).toBe(200);
      expect(decodeProtectedHeader(res.body.id_token)).toEqual({ alg, enc, cty: 'JWT' });
      const key = secretKey(client.client_secret, SYMMETRIC_BITS[alg === 'dir' ? enc : alg]!);
      const inner = new TextDecoder().decode((await compactDecrypt(res.body.id_token, key)).plaintext);
      expect(await verifyServerJwt(inner, client)).toMatchObject({ sub: aliceId, nonce: 'n' });
    });

    it('every key management alg and content encryption enc discovery announces encrypts ID tokens and UserInfo responses that decrypt', async () => {
      const { body: metadata } = await request(server, 'GET', '/.well-known/openid-configuration');
      expect(metadata.id_token_encryption_alg_values_supported).toEqual([...KEY_MANAGEMENT_ALGS]);
      expect(metadata.userinfo_encryption_alg_values_supported).toEqual([...KEY_MANAGEMENT_ALGS]);
      expect(metadata.id_token_encryption_enc_values_supported).toEqual([...CONTENT_ENCRYPTION_ALGS]);
      expect(metadata.userinfo_encryption_enc_values_supported).toEqual([...CONTENT_ENCRYPTION_ALGS]);
      const cases = [
        ...(metadata.id_token_encryption_alg_values_supported as string[]).map((alg) => [alg, 'A128CBC-HS256'] as const),
        ...(metadata.id_token_encryption_enc_values_supported as string[]).map((enc) => ['dir', enc] as const),
      ];
      for (const [alg, enc] of cases) {
        const asymmetric = alg.startsWith('RSA') ? rsa : alg.startsWith('ECDH-ES+') ? x25519 : alg === 'ECDH-ES' ? ec : undefined;
        const client = await register({
          id_token_encrypted_response_alg: alg, id_token_encrypted_response_enc: enc,
          userinfo_encrypted_response_alg: alg, userinfo_encrypted_response_enc: enc,
          ...(asymmetric ? { jwks: { keys: [{ ...asymmetric.publicJwk, kid: 'enc' }] } } : {}),
        });
        const key = asymmetric ? await privateKeyFor(asymmetric, alg) : secretKey(client.client_secret, SYMMETRIC_BITS[alg === 'dir' ? enc : alg]!);
        const res = await exchange(client, await codeFor(client));
        expect(res.status, `${alg} ${enc}: ${res.text}`).toBe(200);
        const idToken = await compactDecrypt(res.body.id_token, key);
        expect(idToken.protectedHeader, `${alg} ${enc}`).toMatchObject({ alg, enc, cty: 'JWT' });
        expect(await verifyServerJwt(new TextDecoder().decode(idToken.plaintext), client)).toMatchObject({ sub: aliceId });
        const info = await request(server, 'GET', '/userinfo', { token: res.body.access_token });
        expect([info.status, info.headers.get('content-type')], `${alg} ${enc}`).toEqual([200, 'application/jwt']);
        const claims = await compactDecrypt(info.text, key);
        expect(claims.protectedHeader).not.toHaveProperty('cty');
        expect(JSON.parse(new TextDecoder().decode(claims.plaintext))).toMatchObject({ sub: aliceId, iss: server.config.issuer, aud: client.client_id });
      }
    });
  });

  describe('encryption keys: refused at registration when jwks has none, a clear error when they cannot be had later', () => {
    it.each([
      ['RSA-OAEP-256 with only a signing RSA key', 'RSA-OAEP-256', () => [{ ...rsa.publicJwk, kid: 'sig', use: 'sig' }]],
      ['RSA-OAEP-256 with an RSA key for another alg', 'RSA-OAEP-256', () => [{ ...rsa.publicJwk, kid: 'oaep', use: 'enc', alg: 'RSA-OAEP' }]],
      ['ECDH-ES with an RSA key only', 'ECDH-ES', () => [{ ...rsa.publicJwk, kid: 'rsa' }]],
    ])('jwks with no usable key is refused: %s', async (_name, alg, jwks) => {
      for (const field of ['id_token_encrypted_response_alg', 'userinfo_encrypted_response_alg']) {
        const res = await request(server, 'POST', '/register', { json: { redirect_uris: [REDIRECT], [field]: alg, jwks: { keys: jwks() } } });
        expect([res.status, res.body.error]).toEqual([400, 'invalid_client_metadata']);
        expect(res.body.error_description).toBe(`${field} ${alg}: jwks holds no encryption key of the type ${alg} needs`);
      }
    });

    it('a jwks_uri that is down at token time: invalid_request naming it, nothing issued, and the code still good once it is back', async () => {
      const encKey = { ...ec.publicJwk, kid: 'back', use: 'enc' };
      const client = await register({ id_token_encrypted_response_alg: 'ECDH-ES', jwks_uri: down.url('/later') });
      const code = await codeFor(client);
      const refused = await exchange(client, code);
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_request']);
      expect(refused.body.error_description).toBe(`the ID token cannot be encrypted to this client: its jwks_uri could not be used (http://${down.host} answered with status 503)`);
      expect(refused.headers.get('cache-control')).toBe('no-store');
      // the operator's log says which client and why
      const logged = log.split('\n').filter((line) => line.includes('request refused') && line.includes(client.client_id));
      expect(logged.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(expect.objectContaining({
        error: 'invalid_request',
        reason: `client ${client.client_id}: ${refused.body.error_description}`,
      }));

      // the client's key server recovers; after the fetch cool-down the same code is exchanged
      down.status = 200;
      down.body = { keys: [encKey] };
      try {
        advanceWallClock(31_000);
        const res = await exchange(client, code);
        expect(res.status, res.text).toBe(200);
        const idToken = await compactDecrypt(res.body.id_token, await privateKeyFor(ec, 'ECDH-ES'));
        expect(await verifyServerJwt(new TextDecoder().decode(idToken.plaintext), client)).toMatchObject({ sub: aliceId });
      } finally {
        down.status = 503;
      }
    });

    it('a symmetric key whose client_secret has expired: invalid_request saying so', async () => {
      // a public client still gets a secret for dir (OIDC Core §10.2); it authenticates without it
      const client = await register({ token_endpoint_auth_method: 'none', id_token_encrypted_response_alg: 'dir' });
      expect(client.client_secret).toEqual(expect.any(String));
      await server.db.query('UPDATE clients SET secret_expires_at = $1 WHERE client_id = $2', [Math.floor(Date.now() / 1000) - 1, client.client_id]);
      const verifier = 'v'.repeat(43);
      const url = new URL(`${server.url}/authorize`);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, scope: 'openid', state: 's', nonce: 'n',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
      }).toString();
      const code = (await authorize(url)).searchParams.get('code')!;
      const res = await postForm(server, '/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: verifier });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
      expect(res.body.error_description).toBe('the ID token cannot be encrypted to this client: dir is keyed from the client_secret, which has expired');
    });

    it('a jwks_uri that no longer holds a fitting key: invalid_request naming the alg; UserInfo alike, GET and POST', async () => {
      keys.body = { keys: [{ ...rsa.publicJwk, kid: 'rsa-only', use: 'enc' }] };
      const idTokens = await register({ id_token_encrypted_response_alg: 'ECDH-ES+A128KW', jwks_uri: keys.url('/no-ec') });
      const refused = await exchange(idTokens, await codeFor(idTokens));
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_request']);
      expect(refused.body.error_description).toBe('the ID token cannot be encrypted to this client: its jwks_uri holds no key for ECDH-ES+A128KW (use enc or none, kty EC or OKP X25519)');

      const userinfo = await register({ userinfo_encrypted_response_alg: 'ECDH-ES', jwks_uri: down.url('/userinfo') });
      const tokens = await exchange(userinfo, await codeFor(userinfo));
      expect(tokens.status, tokens.text).toBe(200);
      for (const method of ['GET', 'POST']) {
        const res = await request(server, method, '/userinfo', { token: tokens.body.access_token });
        expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
        expect(res.body.error_description).toMatch(/^the UserInfo response cannot be encrypted to this client: its jwks_uri could not be used/);
      }
    });
  });

  describe('UserInfo responses (OIDC Core §5.3.2)', () => {
    it('signed with userinfo_signed_response_alg: application/jwt with iss and aud, verified against /jwks and by openid-client', async () => {
      const client = await register({ userinfo_signed_response_alg: 'ES256' });
      const { config, tokens } = await openidClientFlow(client, (c) => oidc.enableNonRepudiationChecks(c));
      const res = await request(server, 'GET', '/userinfo', { token: tokens.access_token });
      expect([res.status, res.headers.get('content-type'), res.headers.get('cache-control')]).toEqual([200, 'application/jwt', 'no-store']);
      expect(decodeProtectedHeader(res.text)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
      expect(await verifyServerJwt(res.text, client)).toMatchObject({ sub: aliceId, preferred_username: 'alice', iss: server.config.issuer, aud: client.client_id });
      // openid-client takes application/jwt, checks iss and aud, and (non-repudiation) the signature
      expect(await oidc.fetchUserInfo(config, tokens.access_token, aliceId)).toMatchObject({ sub: aliceId, preferred_username: 'alice' });
    });

    it('signed and encrypted: a nested JWT that openid-client decrypts, and jose too', async () => {
      const client = await register({
        userinfo_signed_response_alg: 'RS256', userinfo_encrypted_response_alg: 'RSA-OAEP-256',
        jwks: { keys: [{ ...rsa.publicJwk, kid: 'userinfo-enc', use: 'enc' }] },
      });
      const key = await privateKeyFor(rsa, 'RSA-OAEP-256');
      const { config, tokens } = await openidClientFlow(client, (c) => {
        oidc.enableDecryptingResponses(c, undefined, { key, kid: 'userinfo-enc' });
        oidc.enableNonRepudiationChecks(c);
      });
      // the ID token stays signed only: the client asked to encrypt UserInfo alone
      expect(tokens.id_token!.split('.')).toHaveLength(3);
      expect(await oidc.fetchUserInfo(config, tokens.access_token, aliceId)).toMatchObject({ sub: aliceId, iss: server.config.issuer, aud: client.client_id });
      const res = await request(server, 'POST', '/userinfo', { token: tokens.access_token });
      expect(res.headers.get('content-type')).toBe('application/jwt');
      const { plaintext, protectedHeader } = await compactDecrypt(res.text, key);
      expect(protectedHeader).toEqual({ alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256', cty: 'JWT', kid: 'userinfo-enc' });
      expect(await verifyServerJwt(new TextDecoder().decode(plaintext), client)).toMatchObject({ sub: aliceId });
    });

    it('a client that registered neither gets plain JSON', async () => {
      const client = await register({});
      const res = await exchange(client, await codeFor(client));
      const info = await request(server, 'GET', '/userinfo', { token: res.body.access_token });
      expect([info.status, info.headers.get('content-type')]).toEqual([200, 'application/json; charset=utf-8']);
      expect(info.body).toEqual(expect.objectContaining({ sub: aliceId }));
      expect(info.body).not.toHaveProperty('iss');
    });
  });

  describe('request objects are not supported: registration refuses what would describe them', () => {
    it.each([
      ['request_object_signing_alg', 'RS256', 'request_not_supported'],
      ['request_object_encryption_alg', 'RSA-OAEP-256', 'request_not_supported'],
      ['request_object_encryption_enc', 'A128GCM', 'request_not_supported'],
      ['request_uris', ['https://rp.example/request.jwt'], 'request_uri_not_supported'],
    ])('%s', async (field, value, authorizeError) => {
      const res = await request(server, 'POST', '/register', { json: { redirect_uris: [REDIRECT], [field]: value } });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_client_metadata']);
      expect(res.body.error_description).toMatch(new RegExp(`^${field} is not supported: .*${authorizeError}$`));
      const { body: metadata } = await request(server, 'GET', '/.well-known/openid-configuration');
      expect(metadata).not.toHaveProperty(field.startsWith('request_object') ? `${field}_values_supported` : 'request_uris');
      expect([metadata.request_parameter_supported, metadata.request_uri_parameter_supported]).toEqual([false, false]);
    });
  });
});
