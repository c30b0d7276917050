import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Config } from '../config/config.js';
import {
  ASYMMETRIC_SIGNING_ALGS,
  DEFAULT_CONTENT_ENCRYPTION_ALG,
  isAsymmetricKeyManagementAlg,
  isAsymmetricSigningAlg,
  isHmacAlg,
  isSymmetricKeyManagementAlg,
} from '../protocol/algorithms.js';
import {
  JWT_AUTH_METHODS,
  RESPONSE_TYPES,
  SECRET_AUTH_METHODS,
  type ApplicationType,
  type GrantType,
  type TokenEndpointAuthMethod,
} from '../protocol/client-metadata-values.js';
import { invalidClientMetadata, invalidRedirectUri, OAuthError } from '../http/oauth-error.js';
import { jwksCanEncrypt, jwksCanVerify, jwksProblem } from './client-jwks.js';
import {
  CLIENT_METADATA_FIELDS,
  METADATA_FIELD_NAMES,
  fieldSpec,
  isMetadataField,
  type MetadataField,
} from './metadata-fields.js';
import { fetchJson, outboundUrlProblem } from '../outbound/fetch-json.js';
import { redirectUriProblem, uriProblem } from './redirect-uris.js';
import { redirectHostsProblem, sectorDocumentProblem } from './sector-identifier.js';

/** Validated client metadata. Fields the rules need are typed; the rest pass through as JSON. */
export interface ClientMetadata {
  [field: string]: unknown;
  application_type: ApplicationType;
  grant_types: GrantType[];
  response_types?: string[];
  redirect_uris?: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  token_endpoint_auth_signing_alg?: string;
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  sector_identifier_uri?: string;
  scope?: string;
}

export interface MetadataPolicy {
  scopesSupported: readonly string[];
  /** Hosts the outbound fetcher may reach over http or on internal addresses. */
  outboundAllowedHosts: ReadonlySet<string>;
  /** SIGNING_KEY_ALGS: what the server can sign ID tokens and userinfo responses with (discovery announces the same). */
  serverSigningAlgs: readonly string[];
  /** GETs a JSON document a client names (sector_identifier_uri) under the outbound rules: SSRF checks, timeout, size cap. */
  fetchDocument: (url: string) => Promise<unknown>;
}

/**
 * The policy of the configuration: every path that validates metadata (registration, admin API,
 * bootstrap) uses this one. `fetch` is the outbound fetcher, counted and timed when metrics are on.
 */
export function metadataPolicyOf(config: Pick<Config, 'scopesSupported' | 'outbound' | 'signingKeys'>, fetch: typeof fetchJson = fetchJson): MetadataPolicy {
  return {
    scopesSupported: config.scopesSupported,
    outboundAllowedHosts: config.outbound.allowedHosts,
    serverSigningAlgs: config.signingKeys.algs,
    fetchDocument: async (url) => (await fetch(url, config.outbound)).body,
  };
}

/** The fields naming an algorithm the server signs with, and the discovery member announcing the choice. */
const SERVER_SIGNED_FIELDS = {
  id_token_signed_response_alg: 'id_token_signing_alg_values_supported',
  userinfo_signed_response_alg: 'userinfo_signing_alg_values_supported',
} as const;

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ allErrors: false, strict: true });
addFormats(ajv, ['email']);

const validators = new Map<MetadataField, ValidateFunction>(
  METADATA_FIELD_NAMES.map((name) => [name, ajv.compile(fieldSpec(name).schema)]),
);

function schemaError(field: string, validate: ValidateFunction, value: unknown): OAuthError {
  const [error] = validate.errors ?? [];
  const where = `${field}${error?.instancePath ?? ''}`;
  let what = error?.message ?? 'is not valid';
  if (error?.keyword === 'enum') {
    // name the refused value: "grant_types/1 implicit is not supported by this server; ..."
    const index = /^\/(\d+)$/.exec(error.instancePath)?.[1];
    const refused = index !== undefined && Array.isArray(value) ? value[Number(index)] : value;
    const named = typeof refused === 'string' ? ` ${refused.slice(0, 60)} is not supported by this server;` : '';
    what = `${named} must be one of: ${(error.params as { allowedValues: string[] }).allowedValues.join(', ')}`.trimStart();
  }
  if (error?.keyword === 'format') what = `must be a valid ${String((error.params as { format: string }).format)} address`;
  const problem = `${where} ${what}`;
  return field === 'redirect_uris' ? invalidRedirectUri(problem) : invalidClientMetadata(problem);
}

/** The canonical form of a BCP 47 language tag (tags are case-insensitive), or undefined. */
function canonicalLanguageTag(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/** NUL and unpaired surrogates: valid in JSON strings, but PostgreSQL text and jsonb cannot hold them. */
export const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * JSON nesting deeper than any metadata needs (a JWK in jwks sits at depth 4, its x5c entries at 5).
 * Checked without recursion, before anything walks the value recursively.
 */
const MAX_DEPTH = 8;

export function nestedTooDeep(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [node, depth] = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

function hasUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.some(hasUnstorableText);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([key, item]) => UNSTORABLE.test(key) || hasUnstorableText(item));
  }
  return false;
}

/**
 * Keeps recognised fields and their language-tagged variants, checks each against its schema,
 * and drops everything else (RFC 7591 §2: unknown metadata is ignored). A null value means absent.
 */
function pickKnownFields(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === null) continue;
    const [base = '', tag, ...rest] = key.split('#');
    if (!isMetadataField(base)) continue;
    let name: string = base;
    if (tag !== undefined) {
      if (!('localizable' in CLIENT_METADATA_FIELDS[base])) continue;
      const canonical = rest.length === 0 ? canonicalLanguageTag(tag) : undefined;
      if (canonical === undefined) throw invalidClientMetadata(`${key}: "${tag}" is not a BCP 47 language tag`);
      name = `${base}#${canonical}`;
      if (name in picked) throw invalidClientMetadata(`${key} repeats ${name} (language tags are case-insensitive)`);
    }
    if (nestedTooDeep(value)) throw invalidClientMetadata(`${key} is nested more than ${MAX_DEPTH} levels deep`);
    const validate = validators.get(base)!;
    if (!validate(value)) throw schemaError(key, validate, value);
    if (hasUnstorableText(value)) throw invalidClientMetadata(`${key} contains a NUL character or an unpaired UTF-16 surrogate`);
    const unsupported = fieldSpec(base).unsupported;
    if (unsupported !== undefined) {
      throw base === 'software_statement'
        ? new OAuthError('unapproved_software_statement', unsupported)
        : invalidClientMetadata(unsupported);
    }
    picked[name] = Array.isArray(value) ? [...new Set(value)] : value;
  }
  return picked;
}

/** "id_token code" and "code id_token" are the same response type; keep the canonical spelling. */
function canonicalResponseType(value: string): string | undefined {
  const parts = value.split(' ');
  const sorted = [...new Set(parts)].sort().join(' ');
  if (sorted.length === 0 || parts.length !== new Set(parts).size) return undefined;
  return RESPONSE_TYPES.find((known) => known.split(' ').sort().join(' ') === sorted);
}

function applyGrantAndResponseTypes(metadata: Record<string, unknown>): void {
  const grantTypes = metadata.grant_types as GrantType[];
  if (grantTypes.length === 0) throw invalidClientMetadata('grant_types must name at least one grant type');
  // refresh tokens are issued by code exchanges only: without the code flow the grant would never serve
  if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
    throw invalidClientMetadata('grant_types refresh_token requires authorization_code: refresh tokens are issued by the authorization_code grant');
  }

  // OIDC Registration §2 defaults response_types to ["code"]; a client that registers only grants
  // without the authorization endpoint (client_credentials) gets none instead of a contradiction.
  const usesAuthorizationEndpoint = grantTypes.includes('authorization_code');
  const requested = (metadata.response_types as string[] | undefined) ?? (usesAuthorizationEndpoint ? (fieldSpec('response_types').default as string[]) : []);
  const responseTypes = requested.map((value) => {
    const canonical = canonicalResponseType(value);
    if (!canonical) throw invalidClientMetadata(`response_types: "${value}" is not supported; use one of: ${RESPONSE_TYPES.join(', ')}`);
    return canonical;
  });
  for (const responseType of new Set(responseTypes)) {
    const parts = responseType.split(' ');
    if (parts.includes('code') && !grantTypes.includes('authorization_code')) {
      throw invalidClientMetadata(`response_types "${responseType}" requires grant_types to include authorization_code`);
    }
  }
  if (usesAuthorizationEndpoint && responseTypes.length === 0) {
    throw invalidClientMetadata('grant_types authorization_code needs at least one response_types value');
  }
  if (responseTypes.length > 0) metadata.response_types = [...new Set(responseTypes)];
  else delete metadata.response_types;
}

function checkUris(metadata: ClientMetadata, policy: MetadataPolicy): void {
  // implicit is not served (GRANT_TYPES): no redirect URI here ever receives tokens
  const redirectContext = { applicationType: metadata.application_type, usesImplicit: false };
  if (metadata.grant_types.includes('authorization_code') && (metadata.redirect_uris ?? []).length === 0) {
    throw invalidRedirectUri('redirect_uris is required for the authorization_code grant type');
  }
  for (const [key, value] of Object.entries(metadata)) {
    const spec = fieldSpec(key.split('#')[0] as MetadataField);
    if (spec.uri === undefined) continue;
    for (const [index, uri] of (Array.isArray(value) ? value : [value]).entries()) {
      const where = Array.isArray(value) ? `${key}[${index}]` : key;
      if (spec.uri === 'redirect') {
        // post-logout URIs are redirects too, but implicit tokens never travel to them
        const problem = redirectUriProblem(uri as string, redirectContext);
        if (problem) throw (key === 'redirect_uris' ? invalidRedirectUri : invalidClientMetadata)(`${where} ${problem}`);
      } else if (spec.uri === 'outbound') {
        // the server will fetch this URL itself: the SSRF rules apply before anything is stored
        const problem = outboundUrlProblem(uri as string, { allowedHosts: policy.outboundAllowedHosts });
        if (problem) throw invalidClientMetadata(`${where} ${problem}`);
      } else {
        const problem = uriProblem(uri as string, spec.uri);
        if (problem) throw invalidClientMetadata(`${where} ${problem}`);
      }
    }
  }
}

async function checkAuthentication(metadata: ClientMetadata): Promise<void> {
  const method = metadata.token_endpoint_auth_method;
  const signingAlg = metadata.token_endpoint_auth_signing_alg;

  if (metadata.jwks !== undefined && metadata.jwks_uri !== undefined) {
    throw invalidClientMetadata('jwks and jwks_uri are mutually exclusive; register one of them');
  }
  if (method === 'private_key_jwt' && metadata.jwks === undefined && metadata.jwks_uri === undefined) {
    throw invalidClientMetadata('token_endpoint_auth_method private_key_jwt requires jwks or jwks_uri');
  }
  if (method === 'none' && metadata.grant_types.includes('client_credentials')) {
    throw invalidClientMetadata('grant_types client_credentials requires a confidential client; token_endpoint_auth_method none cannot use it');
  }
  if (signingAlg !== undefined) {
    if (!JWT_AUTH_METHODS.includes(method)) {
      throw invalidClientMetadata(`token_endpoint_auth_signing_alg is only meaningful with ${JWT_AUTH_METHODS.join(' or ')}, not ${method}`);
    }
    if (method === 'client_secret_jwt' && !isHmacAlg(signingAlg)) {
      throw invalidClientMetadata(`token_endpoint_auth_signing_alg ${signingAlg} cannot be used with client_secret_jwt; use HS256, HS384 or HS512`);
    }
    if (method === 'private_key_jwt' && !isAsymmetricSigningAlg(signingAlg)) {
      throw invalidClientMetadata(`token_endpoint_auth_signing_alg ${signingAlg} cannot be used with private_key_jwt; use an asymmetric algorithm`);
    }
  }
  if (metadata.jwks !== undefined) {
    const problem = await jwksProblem(metadata.jwks);
    if (problem) throw invalidClientMetadata(problem);
    if (method === 'private_key_jwt' && signingAlg !== undefined && !jwksCanVerify(metadata.jwks, signingAlg)) {
      throw invalidClientMetadata(`jwks holds no signing key usable with token_endpoint_auth_signing_alg ${signingAlg}`);
    }
    if (method === 'private_key_jwt' && !ASYMMETRIC_SIGNING_ALGS.some((alg) => jwksCanVerify(metadata.jwks!, alg))) {
      throw invalidClientMetadata('jwks holds no signing key, so private_key_jwt could never succeed');
    }
  }
}

const ENCRYPTED_RESPONSES = [
  ['id_token_encrypted_response_alg', 'id_token_encrypted_response_enc'],
  ['userinfo_encrypted_response_alg', 'userinfo_encrypted_response_enc'],
] as const;

function checkEncryption(metadata: ClientMetadata): void {
  for (const [algField, encField] of ENCRYPTED_RESPONSES) {
    const alg = metadata[algField] as string | undefined;
    if (metadata[encField] !== undefined && alg === undefined) {
      throw invalidClientMetadata(`${encField} requires ${algField}`);
    }
    if (alg === undefined) continue;
    metadata[encField] ??= DEFAULT_CONTENT_ENCRYPTION_ALG;
    // Encrypting to the client needs its public keys; a jwks_uri is checked when the response is made.
    if (isAsymmetricKeyManagementAlg(alg)) {
      if (metadata.jwks === undefined && metadata.jwks_uri === undefined) {
        throw invalidClientMetadata(`${algField} ${alg} requires jwks or jwks_uri holding the client's encryption key`);
      }
      if (metadata.jwks !== undefined && !jwksCanEncrypt(metadata.jwks, alg)) {
        throw invalidClientMetadata(`${algField} ${alg}: jwks holds no encryption key of the type ${alg} needs`);
      }
    }
  }
}

/**
 * ID tokens and signed userinfo responses are signed with a server key of the client's algorithm:
 * only an algorithm the server holds a key for can be registered (OIDC Registration §2 lets the
 * server refuse one it does not support). HMAC and `none` are not among them.
 */
function checkServerSignedResponses(metadata: ClientMetadata, policy: MetadataPolicy): void {
  for (const [field, announced] of Object.entries(SERVER_SIGNED_FIELDS)) {
    const alg = metadata[field];
    if (typeof alg === 'string' && !policy.serverSigningAlgs.includes(alg)) {
      throw invalidClientMetadata(`${field} ${alg} is not supported: this server signs with ${policy.serverSigningAlgs.join(', ')} (${announced})`);
    }
  }
}

function checkScope(metadata: ClientMetadata, policy: MetadataPolicy): void {
  if (metadata.scope === undefined) return;
  const scopes = [...new Set(metadata.scope.split(' '))];
  if (scopes.some((s) => s === '')) throw invalidClientMetadata('scope must be scope tokens separated by single spaces');
  const unknown = scopes.filter((s) => !policy.scopesSupported.includes(s));
  if (unknown.length > 0) {
    throw invalidClientMetadata(`scope ${unknown.join(' ')} is not offered by this server (scopes_supported: ${policy.scopesSupported.join(' ')})`);
  }
  metadata.scope = scopes.join(' ');
}

/**
 * A pairwise client needs a sector identifier (OIDC Core §8.1): the host of its
 * sector_identifier_uri, or else the one host of its redirect_uris.
 */
function checkSubjectType(metadata: ClientMetadata): void {
  if (metadata.subject_type !== 'pairwise' || metadata.sector_identifier_uri !== undefined) return;
  const problem = redirectHostsProblem(metadata.redirect_uris ?? []);
  if (problem) throw invalidClientMetadata(`subject_type pairwise ${problem}`);
}

/**
 * OIDC Registration §5: the sector_identifier_uri document must list every redirect_uri. Fetched
 * at registration, and on an update only when the URI changed or a redirect_uri was added: what
 * was verified before stays verified, and a rename does not depend on the client's server.
 * Last of the checks, so that a request refused for any other reason costs no fetch.
 */
async function checkSectorIdentifier(metadata: ClientMetadata, policy: MetadataPolicy, previous: Readonly<Record<string, unknown>> | undefined): Promise<void> {
  const uri = metadata.sector_identifier_uri;
  if (typeof uri !== 'string') return;
  const redirectUris = metadata.redirect_uris ?? [];
  const verified = (previous?.redirect_uris as string[] | undefined) ?? [];
  if (previous?.sector_identifier_uri === uri && redirectUris.every((redirect) => verified.includes(redirect))) return;
  const problem = await sectorDocumentProblem(uri, redirectUris, policy.fetchDocument);
  if (problem) throw invalidClientMetadata(`sector_identifier_uri ${problem}`);
}

const KEEP_EMPTY = new Set<MetadataField>(['grant_types', 'response_types']);

/**
 * Validates a registration request (RFC 7591 §2, OIDC Registration §2) and returns the metadata
 * to store: recognised fields only, defaults applied, arrays de-duplicated, in a stable order.
 * `previous` is the client's stored metadata when the request updates it.
 */
export async function validateClientMetadata(
  input: Readonly<Record<string, unknown>>,
  policy: MetadataPolicy,
  previous?: Readonly<Record<string, unknown>>,
): Promise<ClientMetadata> {
  const picked = pickKnownFields(input);
  for (const name of METADATA_FIELD_NAMES) {
    const fallback = fieldSpec(name).default;
    if (fallback !== undefined && picked[name] === undefined && name !== 'response_types') picked[name] = fallback;
    // An empty list says nothing; leave it out rather than store and echo it. Not so for the
    // grant and response types, where an empty list is a statement checked below.
    if (!KEEP_EMPTY.has(name) && Array.isArray(picked[name]) && (picked[name] as unknown[]).length === 0) delete picked[name];
  }
  applyGrantAndResponseTypes(picked);
  const metadata = picked as ClientMetadata;
  checkUris(metadata, policy);
  await checkAuthentication(metadata);
  checkEncryption(metadata);
  checkServerSignedResponses(metadata, policy);
  checkScope(metadata, policy);
  checkSubjectType(metadata);
  await checkSectorIdentifier(metadata, policy, previous);
  return inFieldOrder(metadata);
}

/**
 * Returned in the order of the field table, language variants after their field (jsonb keeps
 * its own key order, so responses are put back in order when read).
 */
export function inFieldOrder<T extends Record<string, unknown>>(metadata: T): T {
  // each key split and ranked once, not in every comparison: this runs on every response
  const keys = Object.keys(metadata).map((key) => {
    const [base = '', tag = ''] = key.split('#');
    return { key, rank: FIELD_RANK.get(base) ?? -1, tag };
  });
  keys.sort((a, b) => a.rank - b.rank || a.tag.localeCompare(b.tag));
  return Object.fromEntries(keys.map(({ key }) => [key, metadata[key]])) as T;
}

/** A field's place in the field table; unknown names (-1) come first, as indexOf put them. */
const FIELD_RANK = new Map<string, number>(METADATA_FIELD_NAMES.map((name, i) => [name, i]));

/**
 * Whether the client needs a client_secret: to authenticate with it, or because it asked for
 * HMAC-signed or symmetrically encrypted responses, whose key derives from it (OIDC Core §10).
 */
export function needsClientSecret(metadata: ClientMetadata): boolean {
  if (SECRET_AUTH_METHODS.includes(metadata.token_endpoint_auth_method)) return true;
  return Object.entries(metadata).some(
    ([key, value]) =>
      typeof value === 'string' &&
      ((key.endsWith('_signing_alg') || key.endsWith('_signed_response_alg')) && isHmacAlg(value)
        ? true
        : (key.endsWith('_encryption_alg') || key.endsWith('_encrypted_response_alg')) && isSymmetricKeyManagementAlg(value)),
  );
}
