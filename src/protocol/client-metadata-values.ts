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
 * Grant types a client may register. `password` and the device grant are not offered; implicit is
 * kept only because OpenID Connect relying parties still register `id_token` response types.
 */
export const GRANT_TYPES = ['authorization_code', 'implicit', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/**
 * Response types as space-separated sets; order inside a value does not matter (RFC 6749 §3.1.1).
 * None returns an access token from the authorization endpoint: RFC 9700 §2.1.2 retires that.
 */
export const RESPONSE_TYPES = ['code', 'id_token', 'code id_token'] as const;

export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

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
