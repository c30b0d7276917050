import { randomBytes } from 'node:crypto';

/** URL-safe random string carrying `bits` bits of entropy. */
export function randomToken(bits: number): string {
  return randomBytes(Math.ceil(bits / 8)).toString('base64url');
}

/**
 * 192 bits: unguessable, and short enough to sit comfortably in URLs and logs. Never starting
 * with `-` or `_`: an id that begins with `-` reads as an option to command-line tools
 * (`oidc-registrar clients get <id>`, and most others); the draw is repeated instead.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomToken(192);
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** 512 bits, so that HS512 keyed with the secret gets a full-length key (RFC 7518 §3.2). */
export const newClientSecret = (): string => randomToken(512);

/** 256 bits (RFC 6750 §5.2 asks for at least 128). */
export const newRegistrationAccessToken = (): string => randomToken(256);
