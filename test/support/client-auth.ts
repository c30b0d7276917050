import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { request } from './test-server.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface KeyPair {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

export async function keyPair(alg: string, kid = `${alg}-${randomUUID().slice(0, 8)}`): Promise<KeyPair> {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return { alg, kid, privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid } };
}

type Client = Record<string, any>;

/** Registers a client_credentials client with the given method and extra metadata. */
export async function registerMachineClient(server: { url: string }, metadata: Record<string, unknown>): Promise<Client> {
  const res = await request(server, 'POST', '/register', { json: { grant_types: ['client_credentials'], scope: 'openid profile', ...metadata } });
  if (res.status !== 201) throw new Error(`registration failed: ${res.text}`);
  return res.body;
}

export interface AssertionOptions {
  clientId: string;
  audience: string | string[] | undefined;
  key: CryptoKey | Uint8Array;
  alg: string;
  kid?: string;
  /** Overrides or removals (undefined) of the default claims. */
  claims?: Record<string, unknown>;
  header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  now?: number;
}

/** A client assertion with sound defaults (RFC 7523 §3): each test changes one thing. */
export async function assertion(options: AssertionOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: options.clientId,
    sub: options.clientId,
    aud: options.audience,
    iat: now,
    exp: now + 60,
    jti: randomUUID(),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  const header = { alg: options.alg, ...(options.kid !== undefined ? { kid: options.kid } : {}), ...options.header } as JWTHeaderParameters;
  return new SignJWT(claims as JWTPayload).setProtectedHeader(header).sign(options.key);
}

/** POST a form to an endpoint of the server. */
export function postForm(server: { url: string }, path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
  return request(server, 'POST', path, {
    body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

export const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const assertionParams = (jwt: string, extra: Record<string, string> = {}) => ({
  grant_type: 'client_credentials',
  client_assertion_type: ASSERTION_TYPE,
  client_assertion: jwt,
  ...extra,
});
