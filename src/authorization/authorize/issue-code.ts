import { randomToken } from '../../crypto/random.js';
import { hashToken } from '../../crypto/token-hash.js';
import type { AuthorizationRepository } from '../../storage/authorization-repository.js';
import type { ActiveSession } from '../sessions.js';
import type { ValidatedAuthorizationRequest } from './request.js';

/** RFC 9700 §4.1 (and protocol-rules): codes live at most a minute. */
export const AUTHORIZATION_CODE_SECONDS = 60;

/**
 * A new authorization code: 256 random bits, stored only as a hash, bound to everything the token
 * request must match (client, redirect URI, PKCE challenge) and everything the tokens will say
 * (user, scope, resources, nonce, session, auth_time, amr, the claims asked for). Returns the code
 * itself, which is never stored.
 */
export async function issueAuthorizationCode(
  deps: { authorizations: AuthorizationRepository; now: () => number },
  request: ValidatedAuthorizationRequest,
  session: ActiveSession,
): Promise<string> {
  const code = randomToken(256);
  const now = deps.now();
  await deps.authorizations.insertCode({
    codeHash: hashToken(code),
    clientId: request.clientId,
    userId: session.user.id,
    redirectUri: request.redirectUri,
    redirectUriGiven: request.redirectUriGiven,
    codeChallenge: request.codeChallenge ?? null,
    scope: request.scope.join(' '),
    resources: request.resources ?? [],
    nonce: request.nonce ?? null,
    // the session's public id (its own random column): what RP-initiated logout compares a hint's sid with
    sid: session.sid,
    authTime: session.authTime,
    amr: session.amr,
    authTimeRequired: request.authTimeRequired,
    ...(request.claims !== undefined ? { claims: request.claims } : {}),
    createdAt: now,
    expiresAt: now + AUTHORIZATION_CODE_SECONDS,
  });
  return code;
}
