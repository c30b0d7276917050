import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens we issue carry 256 random bits, so a single SHA-256 is enough to store them: there
 * is nothing to brute-force, and a slow KDF would only slow every request.
 */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Compares a presented token with a stored hash in time that does not depend on where they differ. */
export function tokenMatchesHash(token: string, storedHash: Uint8Array): boolean {
  const presented = hashToken(token);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}

/** Constant-time equality of two strings (hashed first so that lengths do not leak either). */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}
