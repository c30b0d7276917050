import { requestedClaimNames, type ClaimsRequest } from '../protocol/claims-request.js';
import type { StoredUser } from '../storage/user-repository.js';
import { claimsByName, USER_RELEASABLE_CLAIMS } from '../users/scope-claims.js';

/**
 * What a claims request (OpenID Connect Core §5.5) adds to the tokens of a code. With an access
 * token issued, scope claims go to the UserInfo endpoint, not the ID token (Core §5.4); claims
 * asked for in `id_token` go into the ID token when the user has them, and `auth_time` asked for
 * there is included (Core §5.5.1: it MUST be when essential; voluntary, it costs nothing).
 */
export function idTokenClaimsRequested(user: StoredUser, claims: ClaimsRequest | undefined): { userClaims: Record<string, unknown>; authTime: boolean } {
  const names = requestedClaimNames(claims, 'id_token');
  return { userClaims: claimsByName(user, names), authTime: names.includes('auth_time') };
}

/** The user claims asked for in `userinfo`, by name (sorted: stored JSON keeps no order): what the access token carries to /userinfo. */
export function userinfoClaimsRequested(claims: ClaimsRequest | undefined): string[] {
  return requestedClaimNames(claims, 'userinfo').filter((name) => USER_RELEASABLE_CLAIMS.includes(name)).sort();
}
