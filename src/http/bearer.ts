import { invalidToken } from './oauth-error.js';

/** RFC 6750 §2.1: `Bearer` (any case), one or more spaces, then a token68. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token from an Authorization header, or undefined for anything that is not a Bearer credential. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.length > 4096) return undefined;
  return BEARER.exec(authorization)?.[1];
}

/**
 * The bearer token a request must carry. No Authorization header at all and a header that is not
 * a Bearer credential are told apart only in the challenge (RFC 6750 §3.1), never in the status.
 */
export function requireBearerToken(authorization: string | undefined): string {
  if (authorization === undefined) throw invalidToken(false);
  const token = bearerToken(authorization);
  if (token === undefined) throw invalidToken();
  return token;
}
