import { randomBytes } from 'node:crypto';

/** URL-safe random string carrying `bits` bits of entropy. */
export function randomToken(bits: number): string {
  return randomBytes(Math.ceil(bits / 8)).toString('base64url');
}

/** 192 bits: unguessable, and short enough to sit comfortably in URLs and logs. */
export const newClientId = (): string => randomToken(192);

/** 512 bits, so that HS512 keyed with the secret gets a full-length key (RFC 7518 §3.2). */
export const newClientSecret = (): string => randomToken(512);

/** 256 bits (RFC 6750 §5.2 asks for at least 128). */
export const newRegistrationAccessToken = (): string => randomToken(256);
