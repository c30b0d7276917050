import { importJWK, type JWK } from 'jose';
import { ASYMMETRIC_KEY_MANAGEMENT_ALGS, ASYMMETRIC_SIGNING_ALGS, isAsymmetricSigningAlg } from '../protocol/algorithms.js';
import { CURVE_OF_ALG, CURVE_OF_ECDSA_ALG, PRIVATE_JWK_MEMBERS, keyTypeOfAlg } from '../protocol/jwk.js';

const KEY_ALGS: readonly string[] = [...ASYMMETRIC_SIGNING_ALGS, ...ASYMMETRIC_KEY_MANAGEMENT_ALGS];

/** A client needs a handful of keys (current, next, encryption); more only multiplies work. */
export const MAX_CLIENT_KEYS = 20;

/** Below 2048 bits RSA is not safe (NIST SP 800-131A); RFC 7518 §3.3 asks for at least that. */
const MIN_RSA_BITS = 2048;

/** The algorithm used to test-import a key that does not name one. */
function defaultAlg(jwk: JWK): string | undefined {
  const enc = jwk.use === 'enc';
  switch (jwk.kty) {
    case 'RSA':
      return enc ? 'RSA-OAEP-256' : 'RS256';
    case 'EC':
      if (enc) return 'ECDH-ES';
      return Object.keys(CURVE_OF_ECDSA_ALG).find((alg) => CURVE_OF_ECDSA_ALG[alg] === jwk.crv);
    case 'OKP':
      return jwk.crv === 'X25519' ? 'ECDH-ES' : 'EdDSA';
    default:
      return undefined;
  }
}

function rsaModulusBits(n: unknown): number {
  if (typeof n !== 'string') return 0;
  const bytes = Buffer.from(n, 'base64url');
  let leadingZeroBits = 0;
  for (const byte of bytes) {
    if (byte !== 0) {
      leadingZeroBits += Math.clz32(byte) - 24;
      break;
    }
    leadingZeroBits += 8;
  }
  return bytes.length * 8 - leadingZeroBits;
}

async function keyProblem(jwk: Record<string, unknown>): Promise<string | undefined> {
  if (typeof jwk.kty !== 'string') return 'has no "kty"';
  if (jwk.kty === 'oct') return 'is a symmetric ("oct") key; only public keys may be registered';
  if (!['RSA', 'EC', 'OKP'].includes(jwk.kty)) return `has the unsupported key type "${jwk.kty}"`;
  const secret = PRIVATE_JWK_MEMBERS.find((member) => member in jwk);
  if (secret) return `contains the private key member "${secret}"; register public keys only`;
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === '')) return 'has a "kid" that is not a non-empty string';
  if (jwk.use !== undefined && jwk.use !== 'sig' && jwk.use !== 'enc') return '"use" must be "sig" or "enc"';
  if (jwk.alg !== undefined && (typeof jwk.alg !== 'string' || !KEY_ALGS.includes(jwk.alg))) {
    return `has "alg" ${JSON.stringify(jwk.alg)}, which this server does not support`;
  }
  if (typeof jwk.alg === 'string' && jwk.use !== undefined && (jwk.use === 'sig') !== isAsymmetricSigningAlg(jwk.alg)) {
    return `has "use" ${jwk.use} but "alg" ${jwk.alg}, which is for ${jwk.use === 'sig' ? 'encryption' : 'signing'}`;
  }
  // x5u would be one more URL for us to fetch; x5c, when present, must at least be certificates
  if (jwk.x5u !== undefined) return 'has "x5u"; register the key itself instead';
  if (jwk.x5c !== undefined && (!Array.isArray(jwk.x5c) || jwk.x5c.length === 0 || jwk.x5c.some((c) => typeof c !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(c)))) {
    return 'has an "x5c" that is not a list of base64 certificates';
  }
  if (jwk.kty === 'RSA' && rsaModulusBits(jwk.n) < MIN_RSA_BITS) return `is an RSA key shorter than ${MIN_RSA_BITS} bits`;
  const alg = (jwk.alg as string | undefined) ?? defaultAlg(jwk as JWK);
  if (alg === undefined) return `has the unsupported curve ${JSON.stringify(jwk.crv)}`;
  try {
    await importJWK(jwk as JWK, alg);
  } catch {
    return `is not a valid ${jwk.kty} public key for ${alg}`;
  }
  return undefined;
}

/** Checks an inline `jwks` value; returns the reason it is refused, or undefined. */
export async function jwksProblem(jwks: { keys: readonly Record<string, unknown>[] }): Promise<string | undefined> {
  if (jwks.keys.length > MAX_CLIENT_KEYS) return `jwks holds ${jwks.keys.length} keys; at most ${MAX_CLIENT_KEYS} are accepted`;
  const seen = new Set<string>();
  for (const [index, jwk] of jwks.keys.entries()) {
    const problem = await keyProblem(jwk);
    if (problem) return `jwks: key ${index} ${problem}`;
    if (typeof jwk.kid === 'string') {
      // Two keys with one kid and one use leave a verifier unable to choose.
      const slot = `${jwk.kid}\u0000${String(jwk.use ?? '')}`;
      if (seen.has(slot)) return `jwks: key ${index} repeats the kid "${jwk.kid}"`;
      seen.add(slot);
    }
  }
  return undefined;
}

const usableFor = (use: 'sig' | 'enc', alg: string) => (k: Record<string, unknown>) =>
  (k.use === undefined || k.use === use) && (k.alg === undefined || k.alg === alg);

/** True when some key in the set could verify signatures made with `alg`. */
export function jwksCanVerify(jwks: { keys: readonly Record<string, unknown>[] }, alg: string): boolean {
  const crv = CURVE_OF_ALG[alg];
  return jwks.keys.some(
    (k) => k.kty === keyTypeOfAlg(alg) && (crv === undefined || k.crv === crv) && k.crv !== 'X25519' && usableFor('sig', alg)(k),
  );
}

/**
 * The keys of the set that could receive content encrypted with key management `alg`: `use` enc or
 * absent, `alg` that one or absent, the key type the algorithm needs (RSA for RSA-OAEP*, EC or
 * X25519 for ECDH-ES*). Best first: a key naming `alg` before one that does not, then one marked
 * `use: enc`, then the set's own order. Registration checks there is one; the server encrypts to the first.
 */
export function encryptionKeys<K extends Record<string, unknown>>(jwks: { keys: readonly K[] }, alg: string): K[] {
  const kty = alg.startsWith('ECDH-ES') ? ['EC', 'OKP'] : ['RSA'];
  const rank = (k: K) => (k.alg === alg ? 2 : 0) + (k.use === 'enc' ? 1 : 0);
  return jwks.keys
    .filter((k) => kty.includes(k.kty as string) && !(k.kty === 'OKP' && k.crv !== 'X25519') && usableFor('enc', alg)(k))
    .map((k, index) => ({ k, index }))
    .sort((a, b) => rank(b.k) - rank(a.k) || a.index - b.index)
    .map(({ k }) => k);
}

/** True when some key in the set could receive content encrypted with key management `alg`. */
export function jwksCanEncrypt(jwks: { keys: readonly Record<string, unknown>[] }, alg: string): boolean {
  return encryptionKeys(jwks, alg).length > 0;
}
