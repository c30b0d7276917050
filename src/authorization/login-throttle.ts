import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { unmapIPv4 } from '../rate-limit/allow-list.js';
import type { Rate } from '../rate-limit/rate.js';
import type { RateLimitRepository } from '../storage/rate-limit-repository.js';

/**
 * Login throttling: failed sign-ins are counted per account (whatever the address) and per
 * address (whatever the account), in the shared rate-limit counters, so every instance sees the
 * same counts. Once either is at its limit, sign-in is refused before the password is checked,
 * until the window ends. Successful sign-ins are not counted.
 */
export interface LoginThrottleLimits {
  perAccount: Rate | undefined;
  perAddress: Rate | undefined;
}

/** Usernames are case-insensitive; the key holds a hash so that its length is ours, not the caller's. */
export const accountKey = (username: string): string =>
  `login:account:${createHash('sha256').update(username.toLowerCase()).digest('base64url')}`;

/** IPv4-mapped IPv6 as IPv4; other IPv6 per /64, the block one host usually holds. */
export function addressKey(address: string): string {
  const plain = unmapIPv4(address);
  if (isIP(plain) !== 6) return `login:address:${plain}`;
  const [head = '', tail] = plain.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `login:address:${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export type ThrottleVerdict = { refused: false } | { refused: true; by: 'account' | 'address'; retryAfterSeconds: number };

function counters(limits: LoginThrottleLimits, username: string, address: string) {
  return [
    ...(limits.perAccount ? [{ by: 'account' as const, key: accountKey(username), rate: limits.perAccount }] : []),
    ...(limits.perAddress ? [{ by: 'address' as const, key: addressKey(address), rate: limits.perAddress }] : []),
  ];
}

/** Whether a sign-in may be tried now; reads the counters, counts nothing. */
export async function checkLoginThrottle(repository: RateLimitRepository, limits: LoginThrottleLimits, username: string, address: string, nowMs: number): Promise<ThrottleVerdict> {
  const all = counters(limits, username, address);
  if (all.length === 0) return { refused: false };
  const counts = await repository.current(all.map((c) => c.key), nowMs);
  for (const counter of all) {
    const count = counts.get(counter.key);
    if (count !== undefined && count.count >= counter.rate.max) {
      return { refused: true, by: counter.by, retryAfterSeconds: Math.max(1, Math.ceil((count.resetAt - nowMs) / 1000)) };
    }
  }
  return { refused: false };
}

/** Counts one failed sign-in against the account and the address. */
export async function recordLoginFailure(repository: RateLimitRepository, limits: LoginThrottleLimits, username: string, address: string, nowMs: number): Promise<void> {
  for (const counter of counters(limits, username, address)) await repository.hit({ key: counter.key, windowMs: counter.rate.windowMs }, nowMs);
}
