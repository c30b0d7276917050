/** A limit as the operator writes it: at most `max` requests in each window of `windowMs`. */
export interface Rate {
  max: number;
  windowMs: number;
  /** As written in the environment, for logs and errors. */
  text: string;
}

const UNIT_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** The longest window accepted: a day. Longer windows would hold a refused caller out for days. */
export const MAX_WINDOW_MS = 86_400_000;

export const RATE_FORMAT = 'N/second, N/minute, N/hour or N/<k>s|m|h (e.g. 20/minute, 5/10s), or off';

const RATE = /^(\d{1,9})\/(?:(\d{1,5})(s|m|h)|(second|minute|hour))$/;

/**
 * Parses `20/minute`, `3/second`, `1000/hour` or `5/10s`; `off` is undefined. Returns a string
 * saying what is wrong instead of throwing, so config.ts names the variable in its own error.
 */
export function parseRate(raw: string): Rate | undefined | { problem: string } {
  if (raw === 'off') return undefined;
  const match = RATE.exec(raw);
  if (!match) return { problem: `must be ${RATE_FORMAT}; got "${raw}"` };
  const max = Number(match[1]);
  const unit = (match[3] ?? match[4]) as keyof typeof UNIT_MS;
  const windowMs = Number(match[2] ?? 1) * UNIT_MS[unit];
  if (max < 1) return { problem: `must allow at least 1 request per window (or be off); got "${raw}"` };
  if (windowMs < 1_000 || windowMs > MAX_WINDOW_MS) return { problem: `the window must be from 1 second to 24 hours; got "${raw}"` };
  return { max, windowMs, text: raw };
}
