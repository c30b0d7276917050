/**
 * The scopes of the admin API. Granted at the token endpoint only to clients whose operator
 * setting `admin` is true; never registrable, so not in SCOPES_SUPPORTED or discovery.
 */
export const ADMIN_SCOPES = { read: 'admin:read', write: 'admin:write' } as const;

export const ADMIN_SCOPE_VALUES: readonly string[] = Object.values(ADMIN_SCOPES);

/**
 * The audience of tokens that carry an admin scope: the admin API alone. Sent to any other
 * resource server, such a token is not one that server accepts, nor can it be replayed from there.
 */
export const adminAudience = (issuer: string): string => `${issuer}/admin`;

export const hasAdminScope = (scope: string | undefined): boolean => (scope ?? '').split(' ').some((s) => ADMIN_SCOPE_VALUES.includes(s));
