/**
 * The scopes of the admin API. Granted at the token endpoint only to clients whose operator
 * setting `admin` is true; never registrable, so not in SCOPES_SUPPORTED or discovery.
 */
export const ADMIN_SCOPES = { read: 'admin:read', write: 'admin:write' } as const;

export const ADMIN_SCOPE_VALUES: readonly string[] = Object.values(ADMIN_SCOPES);
