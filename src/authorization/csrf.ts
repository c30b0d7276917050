import { createHmac } from 'node:crypto';
import { randomToken } from '../crypto/random.js';
import { constantTimeEqual } from '../crypto/token-hash.js';

/**
 * CSRF protection of every form: each visitor holds a random 256-bit value in an HttpOnly,
 * SameSite=Lax cookie, and every form carries a token derived from it (HMAC of the form's
 * purpose), so the page never shows the cookie itself. Another site can neither read the cookie
 * nor compute the token; a POST whose token does not match is refused before anything changes.
 */
export const CSRF_COOKIE = 'oidcr_csrf';

/** Cookie values we issue: 43 base64url characters. Anything else is ignored (and replaced). */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export const newCsrfSecret = (): string => randomToken(256);

export const validCsrfSecret = (value: string | undefined): value is string => value !== undefined && COOKIE_VALUE.test(value);

/** The token of one form (its action path) for this visitor. */
export function csrfToken(secret: string, formAction: string): string {
  return createHmac('sha256', secret).update(`csrf:${formAction}`).digest('base64url');
}

/** Whether a submitted token is the one this visitor's cookie gives for this form; constant time. */
export function csrfTokenMatches(secret: string | undefined, formAction: string, submitted: string | undefined): boolean {
  if (!validCsrfSecret(secret) || submitted === undefined) return false;
  return constantTimeEqual(csrfToken(secret, formAction), submitted);
}
