/**
 * The enumerated values of client metadata that this server supports. Discovery announces them and
 * the registration schema accepts exactly these.
 */

export const TOKEN_ENDPOINT_AUTH_METHODS = [
  'client_secret_jwt',
  'private_key_jwt',
  'client_secret_basic',
  'client_secret_post',
  'none',
] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** Methods whose client needs a `client_secret` issued by us. */
export const SECRET_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_jwt',
  'client_secret_basic',
  'client_secret_post',
];

/** Methods that authenticate with a signed JWT and so may carry `token_endpoint_auth_signing_alg`. */
export const JWT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_jwt', 'private_key_jwt'];

/**
 * Grant types a client may register: exactly those the token endpoint serves (src/tokens/grants.ts
 * reads this list), so that registration, discovery and behaviour agree. `implicit` is not served
 * (RFC 9700 §2.1.2); registering it is refused with a named error. `refresh_token` needs
 * `authorization_code` beside it: refresh tokens come only from code exchanges.
 */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** Response types the authorization endpoint serves: the code flow only (RFC 9700 §2.1.2). */
export const RESPONSE_TYPES = ['code'] as const;

export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/**
 * Subject identifiers (OIDC Core §8): public, the user id; pairwise, an identifier of the user
 * for the client's sector alone (src/users/subjects.ts).
 */
export const SUBJECT_TYPES = ['public', 'pairwise'] as const;

/** Claims a relying party may ask for in ID tokens and at the UserInfo endpoint (OIDC Core §5.1). */
export const CLAIMS_SUPPORTED = [
  'sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp',
  'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'email', 'email_verified', 'gender', 'birthdate',
  'zoneinfo', 'locale', 'phone_number', 'phone_number_verified', 'address', 'updated_at',
] as const;

/** Redirect URI schemes that can run script or read local data; refused for every client. */
export const FORBIDDEN_URI_SCHEMES = ['javascript:', 'data:', 'vbscript:', 'blob:', 'file:', 'about:'] as const;
