/**
 * The admin API as its clients (the CLI and the TUI) see it. The server's routes live in
 * src/admin/; openapi/openapi.yaml describes both sides, and tests check them against each other.
 */

import type { AuditAction, AuditEntry } from '../audit/audit.js';

export type { AuditEntry } from '../audit/audit.js';

export type AccessTokenFormat = 'jwt' | 'reference';
/** How a client came to be: the values of `created_via` (the OpenAPI document is checked against them). */
export const CREATED_VIA = ['dynamic_registration', 'admin_api', 'bootstrap'] as const;
export type CreatedVia = (typeof CREATED_VIA)[number];

/** The admin representation of a client: its metadata, flat, beside the operator's settings. */
export type AdminClient = Record<string, unknown> & {
  client_id: string;
  client_id_issued_at: number;
  client_secret_expires_at?: number;
  has_client_secret: boolean;
  registration_client_uri: string;
  token_endpoint_auth_method: string;
  client_name?: string;
  access_token_format: AccessTokenFormat;
  access_token_lifetime: number;
  expires_at: number | null;
  disabled: boolean;
  admin: boolean;
  resource_server: boolean;
  created_at: number;
  updated_at: number;
  created_via: CreatedVia;
  last_used_at: number | null;
  initial_access_token_id: string | null;
  registration_policy: string | null;
};

export interface ClientListQuery {
  limit?: number;
  cursor?: string;
  q?: string;
  auth_method?: string;
  disabled?: boolean;
  expired?: boolean;
  created_after?: number;
  created_before?: number;
}

export interface ClientPage {
  clients: AdminClient[];
  next_cursor: string | null;
}

/** GET /admin/audit: every filter optional, combined with AND. */
export interface AuditListQuery {
  limit?: number;
  cursor?: string;
  client_id?: string;
  action?: AuditAction;
  /** An actor type (admin, client, cli, system, anonymous) or an actor id. */
  actor?: string;
  /** Seconds since the epoch, inclusive. */
  since?: number;
  /** Seconds since the epoch, exclusive. */
  until?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

export interface ServerKeyInfo {
  kid: string;
  alg: string;
  created_at: number;
  activates_at: number;
  state: 'pending' | 'active' | 'retired';
}

/** An initial access token as the admin API shows it: never the token, which is shown once at creation. */
export interface InitialAccessTokenInfo {
  id: string;
  description: string | null;
  /** The registration policy its registrations run under; null: the default policy. */
  policy: string | null;
  max_uses: number | null;
  uses: number;
  /** null: no limit. */
  uses_left: number | null;
  expires_at: number | null;
  revoked_at: number | null;
  created_at: number;
  state: InitialAccessTokenState;
}

/** Whether a token can still register clients: the values of `state`. */
export const INITIAL_ACCESS_TOKEN_STATES = ['active', 'expired', 'used_up', 'revoked'] as const;
export type InitialAccessTokenState = (typeof INITIAL_ACCESS_TOKEN_STATES)[number];

export interface NewInitialAccessTokenRequest {
  description?: string;
  policy?: string;
  max_uses?: number;
  /** Seconds from now. */
  expires_in?: number;
}

export interface RegistrationPolicyInfo {
  name: string;
  description: string | null;
  rules: Record<string, unknown>;
  is_default: boolean;
  created_at: number;
  updated_at: number;
}

export interface RegistrationPolicyRequest {
  name?: string;
  description?: string | null;
  rules: Record<string, unknown>;
}

/**
 * A user account as the admin API shows it: the username, the standard claims that are set
 * (OpenID Connect Core §5.1, src/users/claims.ts), and the server's fields; never the password
 * or its hash.
 */
export interface AdminUser {
  id: string;
  username: string;
  email?: string;
  email_verified: boolean;
  phone_number_verified: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  middle_name?: string;
  nickname?: string;
  preferred_username?: string;
  profile?: string;
  picture?: string;
  website?: string;
  gender?: string;
  birthdate?: string;
  zoneinfo?: string;
  locale?: string;
  phone_number?: string;
  address?: Record<string, string>;
  disabled: boolean;
  created_at: number;
  updated_at: number;
}

export interface UserListQuery {
  limit?: number;
  cursor?: string;
  q?: string;
  disabled?: boolean;
}

export interface UserPage {
  users: AdminUser[];
  next_cursor: string | null;
}

/** POST /admin/users: the username, the password, and any of the claims. */
export type NewUserRequest = Record<string, unknown> & { username: string; password: string };

export interface AdminApi {
  listClients(query: ClientListQuery): Promise<ClientPage>;
  getClient(clientId: string): Promise<AdminClient>;
  createClient(body: Record<string, unknown>): Promise<AdminClient & { client_secret?: string; registration_access_token: string }>;
  replaceClient(clientId: string, body: Record<string, unknown>): Promise<AdminClient>;
  patchClient(clientId: string, patch: Record<string, unknown>): Promise<AdminClient>;
  deleteClient(clientId: string): Promise<void>;
  disableClient(clientId: string): Promise<AdminClient>;
  enableClient(clientId: string): Promise<AdminClient>;
  rotateSecret(clientId: string, gracePeriodSeconds?: number): Promise<AdminClient & { client_secret: string }>;
  rotateRegistrationToken(clientId: string): Promise<AdminClient & { registration_access_token: string }>;
  listKeys(): Promise<{ keys: ServerKeyInfo[] }>;
  /** A new key for `alg`, or for every algorithm the server holds keys for. */
  rotateKeys(alg?: string): Promise<{ keys: ServerKeyInfo[] }>;
  listAudit(query: AuditListQuery): Promise<AuditPage>;
  listInitialAccessTokens(): Promise<{ initial_access_tokens: InitialAccessTokenInfo[] }>;
  createInitialAccessToken(body: NewInitialAccessTokenRequest): Promise<InitialAccessTokenInfo & { token: string }>;
  getInitialAccessToken(id: string): Promise<InitialAccessTokenInfo>;
  revokeInitialAccessToken(id: string): Promise<InitialAccessTokenInfo>;
  listPolicies(): Promise<{ policies: RegistrationPolicyInfo[] }>;
  getPolicy(name: string): Promise<RegistrationPolicyInfo>;
  createPolicy(body: RegistrationPolicyRequest & { name: string }): Promise<RegistrationPolicyInfo>;
  replacePolicy(name: string, body: RegistrationPolicyRequest): Promise<RegistrationPolicyInfo>;
  deletePolicy(name: string): Promise<void>;
  setDefaultPolicy(name: string): Promise<RegistrationPolicyInfo>;
  clearDefaultPolicy(): Promise<void>;
  listUsers(query: UserListQuery): Promise<UserPage>;
  getUser(id: string): Promise<AdminUser>;
  createUser(body: NewUserRequest): Promise<AdminUser>;
  /** An RFC 7396 merge patch of the username and claims (null removes a claim). */
  patchUser(id: string, patch: Record<string, unknown>): Promise<AdminUser>;
  deleteUser(id: string): Promise<void>;
  disableUser(id: string): Promise<AdminUser>;
  enableUser(id: string): Promise<AdminUser>;
  setUserPassword(id: string, password: string): Promise<AdminUser>;
}

/** Any answer other than 2xx: the status and the server's OAuth error. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description === '' ? error : `${error}: ${description}`);
    this.name = 'AdminApiError';
  }
}

/** The credentials file `admin bootstrap` writes (mode 0600): a private_key_jwt admin client. */
export interface AdminCredentials {
  issuer: string;
  client_id: string;
  private_jwk: Record<string, unknown> & { kid: string; alg: string };
}
