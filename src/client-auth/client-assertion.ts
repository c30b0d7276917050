import { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, type CryptoKey, type JWSHeaderParameters } from 'jose';
import { isAsymmetricSigningAlg, isHmacAlg } from '../protocol/algorithms.js';
import type { TokenEndpointAuthMethod } from '../protocol/client-metadata-values.js';
import { OutboundError } from '../outbound/fetch-json.js';
import type { ClientKeySet } from './client-keys.js';
import { keyObjectOf, verifyAsymmetric, verifyHmac } from './jws-signature.js';

/** RFC 7523 §2.2: the only client_assertion_type there is. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Far above any honest assertion (a few hundred bytes, a few KiB with x5c); refused unparsed. */
export const MAX_ASSERTION_LENGTH = 8 * 1024;

/** RFC 10070 names this type; plain JWT is what most clients send. Any other typ is another token. */
const ACCEPTED_TYPES = new Set(['jwt', 'client-authentication+jwt', 'application/client-authentication+jwt']);

export interface AssertionPolicy {
  issuer: string;
  /** URLs of the endpoints an assertion is presented to; accepted as aud only in legacy mode. */
  endpointUrls: readonly string[];
  acceptEndpointAudience: boolean;
  clockSkewSeconds: number;
  maxLifetimeSeconds: number;
}

/** Why an assertion was refused: for the server log only; the caller sees a generic answer. */
export class AssertionRejected extends Error {
  /** In the few words of the client_authentications_total metric. */
  readonly failure: 'bad_assertion' | 'replayed_assertion' | 'key_unavailable';

  constructor(reason: string, failure: AssertionRejected['failure'] = 'bad_assertion') {
    super(reason);
    this.name = 'AssertionRejected';
    this.failure = failure;
  }
}

export interface VerifiedAssertion {
  jti: string;
  exp: number;
}

export interface AssertionInput {
  assertion: string;
  clientId: string;
  method: Extract<TokenEndpointAuthMethod, 'client_secret_jwt' | 'private_key_jwt'>;
  /** The client's token_endpoint_auth_signing_alg, when it pinned one. */
  pinnedAlg: string | undefined;
  /** client_secret_jwt: the shared secret; private_key_jwt: the client's keys. */
  key: Uint8Array | ClientKeySet;
  now: number;
}

/** The protected header, decoded without trusting it yet: checks that need no key come first. */
function checkHeader(input: AssertionInput): JWSHeaderParameters & { alg: string } {
  const { assertion, method, pinnedAlg } = input;
  if (assertion.length > MAX_ASSERTION_LENGTH) throw new AssertionRejected(`assertion longer than ${MAX_ASSERTION_LENGTH} characters`);
  const parts = assertion.split('.');
  if (parts.length === 5) throw new AssertionRejected('assertion is a JWE; a signed JWT (compact JWS) is required');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new AssertionRejected('assertion is not a compact JWS');
  let header: JWSHeaderParameters;
  try {
    header = decodeProtectedHeader(assertion) as JWSHeaderParameters;
  } catch {
    throw new AssertionRejected('assertion header is not valid base64url JSON');
  }
  const alg = header.alg;
  if (typeof alg !== 'string') throw new AssertionRejected('assertion header has no alg');
  if (method === 'client_secret_jwt' && !isHmacAlg(alg)) throw new AssertionRejected(`alg ${alg} is not allowed for client_secret_jwt`);
  if (method === 'private_key_jwt' && !isAsymmetricSigningAlg(alg)) throw new AssertionRejected(`alg ${alg} is not allowed for private_key_jwt`);
  if (pinnedAlg !== undefined && alg !== pinnedAlg) throw new AssertionRejected(`alg ${alg} differs from the registered token_endpoint_auth_signing_alg ${pinnedAlg}`);
  // We implement no JWS extension, so any critical one must be refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined) throw new AssertionRejected(`assertion marks header parameters critical (${JSON.stringify(header.crit)})`);
  if (header.typ !== undefined && !ACCEPTED_TYPES.has(String(header.typ).toLowerCase())) {
    throw new AssertionRejected(`assertion typ ${JSON.stringify(header.typ)} is not a client authentication JWT`);
  }
  return { ...header, alg };
}

/** The compact JWS split for verification: the bytes that were signed, the signature, the payload. */
function partsOf(assertion: string): { signingInput: Buffer; signature: Buffer; payload: Uint8Array } {
  const firstDot = assertion.indexOf('.');
  const lastDot = assertion.lastIndexOf('.');
  return {
    signingInput: Buffer.from(assertion.slice(0, lastDot), 'ascii'),
    signature: Buffer.from(assertion.slice(lastDot + 1), 'base64url'),
    payload: Buffer.from(assertion.slice(firstDot + 1, lastDot), 'base64url'),
  };
}

/** The signature checked with the client's secret or keys (jws-signature.ts); the payload if it verifies. */
async function verifySignature(input: AssertionInput, header: JWSHeaderParameters & { alg: string }): Promise<Uint8Array> {
  const { signingInput, signature, payload } = partsOf(input.assertion);
  const { alg } = header;
  if (input.key instanceof Uint8Array) {
    if (!isHmacAlg(alg) || !verifyHmac(alg, signingInput, signature, input.key)) throw new errors.JWSSignatureVerificationFailed();
    return payload;
  }
  if (!isAsymmetricSigningAlg(alg)) throw new errors.JWSSignatureVerificationFailed();
  const verifies = (key: CryptoKey) => verifyAsymmetric(alg, signingInput, signature, keyObjectOf(key));
  let keys: ClientKeySet = input.key;
  for (let attempt = 0; ; attempt++) {
    let key: CryptoKey;
    try {
      // jose picks the key: kid, kty and alg, use and key_ops (its local sets hand out CryptoKeys)
      const found = await keys.getKey(header, { payload: '', signature: '' });
      if (found instanceof Uint8Array || found instanceof KeyObject || !('algorithm' in found)) throw new errors.JWKSNoMatchingKey();
      key = found;
    } catch (error) {
      if (error instanceof errors.JWKSMultipleMatchingKeys) {
        // no kid and several keys that fit: the signature decides (jose leaves the iteration to us)
        for await (const candidate of error as unknown as AsyncIterable<CryptoKey>) if (verifies(candidate)) return payload;
        throw new errors.JWSSignatureVerificationFailed();
      }
      // an unknown kid: the client may have rotated its keys since we fetched them
      if (error instanceof errors.JWKSNoMatchingKey && attempt === 0) {
        const refreshed = await keys.refresh();
        if (refreshed) {
          keys = refreshed;
          continue;
        }
      }
      throw error;
    }
    if (!verifies(key)) throw new errors.JWSSignatureVerificationFailed();
    return payload;
  }
}

function describe(error: unknown): string {
  if (error instanceof OutboundError) return `the client's jwks_uri could not be used: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'no registered key matches the assertion (kid, kty or alg)';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof errors.JOSEError) return `assertion refused by the JOSE library: ${error.code}`;
  return 'assertion could not be verified';
}

/** Claims per RFC 7523 §3 as tightened by RFC 10070 and RFC 8725. */
function checkClaims(payload: Uint8Array, input: AssertionInput, policy: AssertionPolicy): VerifiedAssertion {
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload)) as Record<string, unknown>;
  } catch {
    throw new AssertionRejected('assertion payload is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new AssertionRejected('assertion payload is not a JSON object');
  const { now } = input;
  const skew = policy.clockSkewSeconds;

  if (claims.iss !== input.clientId) throw new AssertionRejected('iss is not the client id');
  if (claims.sub !== input.clientId) throw new AssertionRejected('sub is not the client id');

  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const soleIssuer = audiences.length === 1 && audiences[0] === policy.issuer;
  // even the legacy mode takes one audience only: a list that merely contains ours is how
  // audience injection works (CVE-2025-27370)
  const legacy = policy.acceptEndpointAudience && audiences.length === 1 && policy.endpointUrls.includes(audiences[0] as string);
  if (!soleIssuer && !legacy) {
    throw new AssertionRejected(
      audiences.some((a) => policy.endpointUrls.includes(a as string))
        ? 'aud is an endpoint URL; RFC 10070 requires the issuer identifier as the sole audience'
        : 'aud is not the issuer identifier as its sole value',
    );
  }

  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new AssertionRejected('exp is missing or not a number');
  if (claims.exp <= now - skew) throw new AssertionRejected('assertion has expired');
  if (claims.exp - now > policy.maxLifetimeSeconds + skew) {
    throw new AssertionRejected(`assertion lives ${Math.round(claims.exp - now)} s, more than the ${policy.maxLifetimeSeconds} s allowed`);
  }
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat > now + skew)) throw new AssertionRejected('iat is in the future or not a number');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + skew)) throw new AssertionRejected('nbf is in the future or not a number');
  // printable ASCII: a jti is an identifier, and it is stored (PostgreSQL refuses NUL)
  if (typeof claims.jti !== 'string' || !/^[\x20-\x7e]{1,256}$/.test(claims.jti)) throw new AssertionRejected('jti is missing, empty, too long or not printable ASCII');
  return { jti: claims.jti, exp: Math.ceil(claims.exp) };
}

/**
 * Verifies a client assertion up to, not including, the replay check: header rules first (they
 * need no key), then the signature with the client's key, then the claims.
 */
export async function verifyClientAssertion(input: AssertionInput, policy: AssertionPolicy): Promise<VerifiedAssertion> {
  const header = checkHeader(input);
  let payload: Uint8Array;
  try {
    payload = await verifySignature(input, header);
  } catch (error) {
    if (error instanceof AssertionRejected) throw error;
    throw new AssertionRejected(describe(error), error instanceof OutboundError ? 'key_unavailable' : 'bad_assertion');
  }
  return checkClaims(payload, input, policy);
}
