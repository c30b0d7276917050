import { createHash } from 'node:crypto';

/**
 * The `sid` of ID tokens (OIDC Front-/Back-Channel Logout): names a browser session without
 * revealing what the database keys it by. Derived from the stored hash of the cookie value, so it
 * needs no column and is the same on every instance.
 */
export function sessionSid(idHash: Uint8Array): string {
  return createHash('sha256').update('sid:').update(idHash).digest('base64url').slice(0, 32);
}
