// Load for POST /token with JWT client authentication (RFC 7523 §2.2): private_key_jwt (ES256)
// and client_secret_jwt (HS256).
//
// Every request needs an assertion nobody has used before (the server refuses a repeated jti with
// 401), and signing one per request inside the load generator would put the generator's CPU into
// the figures. So a pool of assertions is signed just before a scenario starts and handed out one
// per request; an assertion is dropped from the pool when handed out, so it can never be sent
// twice. When the pool runs dry the run is stopped and the scenario fails, rather than reuse one.

import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** exp = iat + this; the server allows 300 s (CLIENT_ASSERTION_MAX_LIFETIME) plus 30 s skew. */
export const ASSERTION_LIFETIME_SECONDS = 120;

/**
 * The longest scenario the pool can serve: every assertion is signed before the run with
 * iat = now, so the last one sent must still be unexpired (less a margin for signing the pool).
 */
export const MAX_TOKEN_SCENARIO_SECONDS = 90;

/** Path of the request sent in place of a token request once the pool is empty (a 404, never a replay). */
const EXHAUSTED_PATH = '/bench-assertion-pool-exhausted';

const base64url = (value) => Buffer.from(value).toString('base64url');

/** A P-256 key pair: the private KeyObject to sign with and the public JWK (with kid) to register. */
export function es256KeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `bench-${randomBytes(6).toString('base64url')}`;
  return { privateKey, kid, publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } };
}

/** POST /register with `metadata`; returns the registration response (client_id, client_secret, ...). */
export async function registerClient(baseUrl, metadata) {
  const response = await fetch(`${baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`POST /register (${metadata.token_endpoint_auth_method}) gave ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * `count` signed client assertions for `clientId`: iss = sub = client id, aud = the issuer (the
 * sole audience, RFC 10070), iat = now, exp = now + 120 s, a jti unique to this pool.
 * ES256 signs with node:crypto (raw r||s, as JWS wants); HS256 with an HMAC of the secret's UTF-8.
 */
export function signAssertions({ count, clientId, audience, alg, key, kid }) {
  if (alg !== 'ES256' && alg !== 'HS256') throw new Error(`unsupported assertion alg ${alg}`);
  const started = performance.now();
  const header = base64url(JSON.stringify({ alg, ...(kid !== undefined ? { kid } : {}) }));
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ASSERTION_LIFETIME_SECONDS;
  const jtiPrefix = randomBytes(12).toString('base64url');
  const assertions = new Array(count);
  for (let i = 0; i < count; i += 1) {
    const payload = base64url(JSON.stringify({ iss: clientId, sub: clientId, aud: audience, exp, iat, jti: `${jtiPrefix}.${i}` }));
    const input = `${header}.${payload}`;
    const signature =
      alg === 'ES256'
        ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
        : createHmac('sha256', key).update(input).digest();
    assertions[i] = `${input}.${signature.toString('base64url')}`;
  }
  return { assertions, iat, exp, signingSeconds: (performance.now() - started) / 1000 };
}

/**
 * autocannon options for POST /token, handing out one pooled assertion per request. The form has
 * no client_id: the server finds the client from the assertion's iss, as RFC 7523 allows.
 * `onExhausted` runs once, when the pool is empty (the caller stops the run); from then on
 * requests go to a path that answers 404, so the scenario fails visibly and no assertion repeats.
 */
export function tokenRequests(pool, onExhausted) {
  const prefix =
    `grant_type=client_credentials` +
    `&client_assertion_type=${encodeURIComponent(JWT_BEARER_ASSERTION_TYPE)}` +
    `&client_assertion=`;
  const state = { handedOut: 0, exhaustedAfter: null, poolSize: pool.length };
  const requests = [
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (request) => {
        if (state.handedOut < pool.length) {
          const assertion = pool[state.handedOut];
          pool[state.handedOut] = undefined; // gone from the pool: it cannot be handed out again
          state.handedOut += 1;
          return { ...request, body: prefix + assertion };
        }
        if (state.exhaustedAfter === null) {
          state.exhaustedAfter = state.handedOut;
          onExhausted();
        }
        return { ...request, method: 'GET', path: EXHAUSTED_PATH, headers: {}, body: undefined };
      },
    },
  ];
  return { requests, state };
}
