/** JWK facts shared by key validation, key selection and log redaction. */

/** Members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The curve each ECDSA algorithm is defined over (RFC 7518 §3.4). */
export const CURVE_OF_ECDSA_ALG: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** The curve an algorithm is fixed to, where it is (ECDSA, and Ed25519 per RFC 9864). */
export const CURVE_OF_ALG: Readonly<Record<string, string>> = { ...CURVE_OF_ECDSA_ALG, Ed25519: 'Ed25519' };

/** The key type a signing or key-management algorithm needs. */
export function keyTypeOfAlg(alg: string): 'RSA' | 'EC' | 'OKP' | undefined {
  if (/^(RS|PS)\d{3}$/.test(alg) || alg.startsWith('RSA-OAEP')) return 'RSA';
  if (/^ES\d{3}$/.test(alg)) return 'EC';
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'OKP';
  return undefined;
}
