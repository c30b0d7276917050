/**
 * The algorithms this server knows, in one place. Discovery announces these lists, registration
 * validates client metadata against them, and OpenAPI is checked against them by a test.
 */

/** HMAC algorithms: keyed with the client secret, so only for `client_secret_jwt`. */
export const HMAC_SIGNING_ALGS = ['HS256', 'HS384', 'HS512'] as const;

/** Asymmetric JWS algorithms: keyed with the client's public keys, so only for `private_key_jwt`. */
export const ASYMMETRIC_SIGNING_ALGS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  // EdDSA names the family; Ed25519 is its fully-specified form (RFC 9864), which
  // oauth4webapi and openid-client send for Ed25519 keys.
  'EdDSA', 'Ed25519',
] as const;

/** Every JWS algorithm accepted anywhere. `none` is deliberately absent (RFC 8725 §3.1). */
export const SIGNING_ALGS = [...HMAC_SIGNING_ALGS, ...ASYMMETRIC_SIGNING_ALGS] as const;

export type HmacSigningAlg = (typeof HMAC_SIGNING_ALGS)[number];
export type AsymmetricSigningAlg = (typeof ASYMMETRIC_SIGNING_ALGS)[number];
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** JWE key management algorithms that encrypt to the client's public keys. */
export const ASYMMETRIC_KEY_MANAGEMENT_ALGS = [
  'RSA-OAEP', 'RSA-OAEP-256',
  'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW',
] as const;

/** JWE key management algorithms keyed from the client secret (OIDC Core §10.2). */
export const SYMMETRIC_KEY_MANAGEMENT_ALGS = ['A128KW', 'A192KW', 'A256KW', 'dir'] as const;

export const KEY_MANAGEMENT_ALGS = [...ASYMMETRIC_KEY_MANAGEMENT_ALGS, ...SYMMETRIC_KEY_MANAGEMENT_ALGS] as const;

/** JWE content encryption algorithms. `RSA1_5` and friends are out (RFC 8725 §3.2). */
export const CONTENT_ENCRYPTION_ALGS = [
  'A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512',
  'A128GCM', 'A192GCM', 'A256GCM',
] as const;

/** OIDC Registration §2: the `enc` used when only the `alg` of an encrypted response is given. */
export const DEFAULT_CONTENT_ENCRYPTION_ALG = 'A128CBC-HS256';

export function isHmacAlg(alg: string): alg is HmacSigningAlg {
  return (HMAC_SIGNING_ALGS as readonly string[]).includes(alg);
}

export function isAsymmetricSigningAlg(alg: string): alg is AsymmetricSigningAlg {
  return (ASYMMETRIC_SIGNING_ALGS as readonly string[]).includes(alg);
}

export function isSymmetricKeyManagementAlg(alg: string): boolean {
  return (SYMMETRIC_KEY_MANAGEMENT_ALGS as readonly string[]).includes(alg);
}

export function isAsymmetricKeyManagementAlg(alg: string): boolean {
  return (ASYMMETRIC_KEY_MANAGEMENT_ALGS as readonly string[]).includes(alg);
}
