import {
  CONTENT_ENCRYPTION_ALGS,
  KEY_MANAGEMENT_ALGS,
  SIGNING_ALGS,
} from '../protocol/algorithms.js';
import { ACR_VALUES_SUPPORTED } from '../protocol/acr.js';
import { MAX_CLIENT_KEYS } from './client-jwks.js';
import {
  APPLICATION_TYPES,
  GRANT_TYPES,
  SUBJECT_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
} from '../protocol/client-metadata-values.js';

/**
 * The client metadata this server recognises (RFC 7591 §2, OpenID Connect Registration 1.0 §2,
 * RP-Initiated Logout §3.1): the one list that validation, the response, discovery and the
 * OpenAPI document follow. Anything not named here is dropped from a request.
 *
 * `uri` says which URI rule applies beyond the JSON type:
 *   redirect: the redirect URI rules (application type, loopback, forbidden schemes);
 *   web:      absolute http or https;
 *   https:    absolute https (login initiation, request objects);
 *   outbound: a URL this server fetches itself: https, and the SSRF rules of outbound/.
 * `localizable` fields may also appear as `name#language-tag` (RFC 7591 §2.2).
 */
export interface FieldSpec {
  readonly schema: Readonly<Record<string, unknown>>;
  readonly uri?: 'redirect' | 'web' | 'https' | 'outbound';
  readonly localizable?: true;
  /** OIDC Registration §2 defaults, applied when the field is absent. */
  readonly default?: unknown;
  /** Accepted by the schema but refused until this server implements it. */
  readonly unsupported?: string;
}

/** Text must say something: not empty, not only white space. */
const text = { type: 'string', minLength: 1, maxLength: 2048, pattern: '\\S' } as const;
const uri = { type: 'string', minLength: 1, maxLength: 2048 } as const;
const list = (items: Record<string, unknown>, maxItems = 100) => ({ type: 'array', items, maxItems }) as const;
const oneOf = (values: readonly string[]) => ({ type: 'string', enum: [...values] }) as const;
const requestObjects = (field: string) =>
  `${field} is not supported: this server takes no request objects (request_parameter_supported is false); /authorize answers request_not_supported`;

export const CLIENT_METADATA_FIELDS = {
  redirect_uris: { schema: list(uri), uri: 'redirect' },
  post_logout_redirect_uris: { schema: list(uri), uri: 'redirect' },
  // Defaulted only for clients that use the authorization endpoint (see validate-metadata.ts).
  response_types: { schema: list(text, 10), default: ['code'] },
  grant_types: { schema: list(oneOf(GRANT_TYPES), 10), default: ['authorization_code'] },
  application_type: { schema: oneOf(APPLICATION_TYPES), default: 'web' },
  contacts: { schema: list({ type: 'string', format: 'email', maxLength: 320 }) },
  client_name: { schema: text, localizable: true },
  logo_uri: { schema: uri, uri: 'web', localizable: true },
  client_uri: { schema: uri, uri: 'web', localizable: true },
  policy_uri: { schema: uri, uri: 'web', localizable: true },
  tos_uri: { schema: uri, uri: 'web', localizable: true },
  jwks_uri: { schema: uri, uri: 'outbound' },
  jwks: {
    schema: {
      type: 'object',
      required: ['keys'],
      properties: { keys: { type: 'array', minItems: 1, maxItems: MAX_CLIENT_KEYS, items: { type: 'object' } } },
    },
  },
  // fetched at registration: a JSON array listing every redirect_uri (OIDC Registration §5)
  sector_identifier_uri: { schema: uri, uri: 'outbound' },
  subject_type: { schema: oneOf(SUBJECT_TYPES), default: 'public' },
  id_token_signed_response_alg: { schema: oneOf(SIGNING_ALGS), default: 'RS256' },
  id_token_encrypted_response_alg: { schema: oneOf(KEY_MANAGEMENT_ALGS) },
  id_token_encrypted_response_enc: { schema: oneOf(CONTENT_ENCRYPTION_ALGS) },
  userinfo_signed_response_alg: { schema: oneOf(SIGNING_ALGS) },
  userinfo_encrypted_response_alg: { schema: oneOf(KEY_MANAGEMENT_ALGS) },
  userinfo_encrypted_response_enc: { schema: oneOf(CONTENT_ENCRYPTION_ALGS) },
  // /authorize takes no request objects (request_not_supported): what would describe them is refused
  request_object_signing_alg: { schema: oneOf(SIGNING_ALGS), unsupported: requestObjects('request_object_signing_alg') },
  request_object_encryption_alg: { schema: oneOf(KEY_MANAGEMENT_ALGS), unsupported: requestObjects('request_object_encryption_alg') },
  request_object_encryption_enc: { schema: oneOf(CONTENT_ENCRYPTION_ALGS), unsupported: requestObjects('request_object_encryption_enc') },
  token_endpoint_auth_method: { schema: oneOf(TOKEN_ENDPOINT_AUTH_METHODS), default: 'client_secret_basic' },
  token_endpoint_auth_signing_alg: { schema: oneOf(SIGNING_ALGS) },
  default_max_age: { schema: { type: 'integer', minimum: 0, maximum: 2_147_483_647 } },
  require_auth_time: { schema: { type: 'boolean' } },
  // only classes this server achieves (acr_values_supported): the default of a request's acr_values
  default_acr_values: { schema: list(oneOf(ACR_VALUES_SUPPORTED), 20) },
  initiate_login_uri: { schema: uri, uri: 'https' },
  request_uris: {
    schema: list(uri, 20),
    uri: 'https',
    unsupported: 'request_uris is not supported: this server takes no request_uri (request_uri_parameter_supported is false); /authorize answers request_uri_not_supported',
  },
  scope: { schema: { type: 'string', minLength: 1, maxLength: 2048 } },
  software_id: { schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } },
  software_version: { schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } },
  software_statement: {
    schema: { type: 'string', minLength: 1 },
    unsupported: 'software statements are not accepted by this server',
  },
} as const satisfies Record<string, FieldSpec>;

export type MetadataField = keyof typeof CLIENT_METADATA_FIELDS;

export const METADATA_FIELD_NAMES = Object.keys(CLIENT_METADATA_FIELDS) as MetadataField[];

export const isMetadataField = (name: string): name is MetadataField => Object.hasOwn(CLIENT_METADATA_FIELDS, name);

export const fieldSpec = (name: MetadataField): FieldSpec => CLIENT_METADATA_FIELDS[name];

/**
 * Fields the server issues (RFC 7591 §3.2.1, RFC 7592 §3). Never taken from a registration
 * request; some are checked on update (RFC 7592 §2.2).
 */
export const SERVER_ISSUED_FIELDS = [
  'client_id',
  'client_secret',
  'client_id_issued_at',
  'client_secret_expires_at',
  'registration_access_token',
  'registration_client_uri',
] as const;
