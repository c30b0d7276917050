import type { StoredUser } from '../storage/user-repository.js';

/** OpenID Connect Core §5.4: the claims each standard scope asks for. */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/** Every claim of a user that a client may be given: those of the scopes above (each in one). */
export const USER_RELEASABLE_CLAIMS: readonly string[] = Object.values(SCOPE_CLAIMS).flat();

/** The claims the scopes cover, to tell which requested claims (OIDC Core §5.5) go beyond them. */
export const claimsOfScopes = (scope: readonly string[]): Set<string> => new Set(scope.flatMap((s) => SCOPE_CLAIMS[s] ?? []));

/**
 * Every claim value the user has: preferred_username falls back to the username; updated_at is
 * when the account last changed; claims without a value are absent, never empty.
 */
function userClaimValues(user: StoredUser): Record<string, unknown> {
  return {
    ...user.profile,
    preferred_username: user.profile.preferred_username ?? user.username,
    updated_at: user.updatedAt,
    ...(user.email !== null ? { email: user.email, email_verified: user.emailVerified } : {}),
  };
}

/** The user's values of the named claims that a client may be given and the user has. */
export function claimsByName(user: StoredUser, names: Iterable<string>): Record<string, unknown> {
  const all = userClaimValues(user);
  const claims: Record<string, unknown> = {};
  for (const name of names) {
    if (USER_RELEASABLE_CLAIMS.includes(name) && all[name] !== undefined) claims[name] = all[name];
  }
  return claims;
}

/** A user's claims for the scopes granted: `sub` always, then those of each scope that the user has. */
export function claimsForScope(user: StoredUser, scope: readonly string[]): Record<string, unknown> {
  return { sub: user.id, ...claimsByName(user, scope.flatMap((s) => SCOPE_CLAIMS[s] ?? [])) };
}
