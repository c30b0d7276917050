import { constantTimeEqual, hashToken } from '../crypto/token-hash.js';
import { invalidToken, OAuthError } from '../http/oauth-error.js';
import type { InitialAccessTokenRepository, StoredInitialAccessToken } from '../storage/initial-access-token-repository.js';

/**
 * Who may use POST /register: everyone (`open`; a Bearer token, when one is sent, must be valid),
 * holders of an initial access token (`protected`, RFC 7591 §3), or nobody (`closed`: operators
 * create clients through the admin API; RFC 7592 management of existing clients goes on).
 */
export const REGISTRATION_MODES = ['open', 'protected', 'closed'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

export interface RegistrationAccess {
  mode: RegistrationMode;
  /** REGISTRATION_INITIAL_ACCESS_TOKEN: one more valid token, without a use limit, under the default policy. */
  staticToken: string | undefined;
  tokens: InitialAccessTokenRepository;
}

/** What a registration was allowed by: nothing, the static token, or a stored token (by hash). */
export type RegistrationGrant =
  | { kind: 'anonymous' }
  | { kind: 'static' }
  | { kind: 'stored'; token: StoredInitialAccessToken; tokenHash: Buffer };

export const registrationClosed = (): OAuthError =>
  new OAuthError('access_denied', 'registration is closed on this server: clients are created by its operators');

/** Why a stored token cannot be used now, for the log; undefined when it can. */
export function unusableReason(token: StoredInitialAccessToken, now: number): string | undefined {
  if (token.revokedAt !== null) return `initial access token ${token.id} is revoked`;
  if (token.expiresAt !== null && token.expiresAt <= now) return `initial access token ${token.id} has expired`;
  if (token.maxUses !== null && token.uses >= token.maxUses) return `initial access token ${token.id} is used up`;
  return undefined;
}

/**
 * Decides whether a registration may go ahead, before its metadata is validated. A stored token
 * is only looked at here; its use is spent in the registration's transaction (it may be used up
 * by then, and is refused then).
 */
export async function admitRegistration(access: RegistrationAccess, presented: string | undefined, now: number): Promise<RegistrationGrant> {
  if (access.mode === 'closed') throw registrationClosed();
  if (presented === undefined) {
    if (access.mode === 'protected') throw invalidToken(false);
    return { kind: 'anonymous' };
  }
  if (access.staticToken !== undefined && constantTimeEqual(presented, access.staticToken)) return { kind: 'static' };
  const tokenHash = hashToken(presented);
  const token = await access.tokens.findByHash(tokenHash);
  if (token === undefined) throw invalidToken(true, 'not an initial access token of this server');
  const unusable = unusableReason(token, now);
  if (unusable !== undefined) throw invalidToken(true, unusable);
  return { kind: 'stored', token, tokenHash };
}
