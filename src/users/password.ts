import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { invalidRequest } from '../http/oauth-error.js';

/**
 * Passwords are stored as scrypt hashes (RFC 7914, node:crypto), never in clear:
 *   N = 2^15 (cost), r = 8 (block size), p = 1 (parallelism): 32 MiB of memory and some tens of
 *   milliseconds a hash (OWASP's cheat sheet asks more: N = 2^17, or p = 3 at N = 2^15);
 *   a 16-byte random salt per password, a 32-byte derived key.
 * The stored string carries its parameters, `$scrypt$ln=15,r=8,p=1$<salt>$<key>` (base64url,
 * in the manner of the PHC string format), so they can be raised later: old hashes still verify
 * with their own parameters, and `needsRehash` tells which ones to renew at the next sign-in.
 */
export const PASSWORD_HASH_PARAMETERS = { logN: 15, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

const ENCODED = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,128})\$([A-Za-z0-9_-]{16,256})$/;

interface HashParameters {
  logN: number;
  r: number;
  p: number;
}

function derive(password: string, salt: Buffer, keyBytes: number, { logN, r, p }: HashParameters): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node refuses above maxmem (32 MiB by default), so room is made
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
  // asynchronous: the hash runs on libuv's thread pool, not on the event loop
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** Length in characters (code points), so that a password of emoji is not counted twice. */
const lengthOf = (password: string) => [...password].length;

/** Refuses a password too short to resist guessing or too long to hash cheaply; never echoes it. */
export function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw invalidRequest('password must be a string');
  const length = lengthOf(password);
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw invalidRequest(`password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`);
  }
  return password;
}

/** A new hash of `password` with the current parameters and a fresh salt. Normalised to NFC first: the same password typed on another system matches. */
export async function hashPassword(password: string): Promise<string> {
  const { logN, r, p, saltBytes, keyBytes } = PASSWORD_HASH_PARAMETERS;
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, keyBytes, { logN, r, p });
  return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parse(encoded: string): (HashParameters & { salt: Buffer; key: Buffer }) | undefined {
  const match = ENCODED.exec(encoded);
  if (match === null) return undefined;
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // bounds that keep a corrupt row from asking for gigabytes
  if (logN < 10 || logN > 22 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  return { logN, r, p, salt: Buffer.from(match[4]!, 'base64url'), key: Buffer.from(match[5]!, 'base64url') };
}

/** Whether `password` is the one `encoded` was made from; compared in constant time. A malformed hash verifies nothing. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const stored = parse(encoded);
  if (stored === undefined || lengthOf(password) > MAX_PASSWORD_LENGTH) return false;
  const key = await derive(password, stored.salt, stored.key.length, stored);
  return timingSafeEqual(key, stored.key);
}

/** True when `encoded` was made with other parameters than today's (to be rehashed at the next sign-in). */
export function needsRehash(encoded: string): boolean {
  const stored = parse(encoded);
  const { logN, r, p, saltBytes, keyBytes } = PASSWORD_HASH_PARAMETERS;
  return stored === undefined || stored.logN !== logN || stored.r !== r || stored.p !== p || stored.salt.length !== saltBytes || stored.key.length !== keyBytes;
}
