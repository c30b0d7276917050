import type { StoredUser } from '../storage/user-repository.js';

/** OpenID Connect Core §5.4: the claims each standard scope asks for. */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/**
 * A user's claims for the scopes granted: `sub` always, then those of each scope that the user
 * has (claims without a value are left out, never sent empty). preferred_username falls back to
 * the username; updated_at is when the account last changed.
 */
export function claimsForScope(user: StoredUser, scope: readonly string[]): Record<string, unknown> {
  const all: Record<string, unknown> = {
    ...user.profile,
    preferred_username: user.profile.preferred_username ?? user.username,
    updated_at: user.updatedAt,
    ...(user.email !== null ? { email: user.email, email_verified: user.emailVerified } : {}),
  };
  const claims: Record<string, unknown> = { sub: user.id };
  for (const name of scope.flatMap((s) => SCOPE_CLAIMS[s] ?? [])) {
    if (all[name] !== undefined) claims[name] = all[name];
  }
  return claims;
}
