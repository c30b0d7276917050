import { CLAIMS_SUPPORTED } from './client-metadata-values.js';

/**
 * The `claims` request parameter (OpenID Connect Core §5.5): which claims a relying party asks
 * for, in the ID token and at the UserInfo endpoint, beyond what its scopes give.
 *
 * One value, one (de)serialiser: a ClaimsRequest is plain JSON in its canonical form, so it can be
 * kept in a waiting authorization request, an authorization code (column `claims`, migration
 * 0013) and later whatever else carries a grant forward (refresh tokens), always written with
 * claimsRequestToJson and read back with claimsRequestFromJson, which checks it as strictly as the
 * parameter itself.
 */

type Json = null | boolean | number | string | Json[] | { [member: string]: Json };

/** What is asked of one claim (Core §5.5.1); `null` in the parameter is `{}` here. */
export interface ClaimRequest {
  essential?: boolean;
  value?: Json;
  values?: Json[];
}

/** The members of Core §5.5 this server acts on. */
export const CLAIMS_REQUEST_MEMBERS = ['userinfo', 'id_token'] as const;
export type ClaimsRequestMember = (typeof CLAIMS_REQUEST_MEMBERS)[number];

/** Claims asked for, by member; a member with no claim this server knows is left out. */
export type ClaimsRequest = { readonly [member in ClaimsRequestMember]?: Readonly<Record<string, ClaimRequest>> };

/**
 * The parameter's length: a request for every claim this server knows, each with a few values,
 * fits several times over. It also bounds what is stored with a code.
 */
export const MAX_CLAIMS_PARAMETER_LENGTH = 4096;

/** What is wrong with a claims parameter, said so a developer can fix it. */
export class ClaimsRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClaimsRequestError';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** NUL and lone surrogates: valid JSON, but the database cannot store them. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorable = (value: unknown): boolean =>
  typeof value === 'string' ? UNSTORABLE.test(value) : typeof value === 'object' && value !== null && Object.entries(value).some(([key, item]) => UNSTORABLE.test(key) || unstorable(item));

const KNOWN_CLAIMS: ReadonlySet<string> = new Set(CLAIMS_SUPPORTED);
const named = (name: string) => name.slice(0, 40);

function claimRequest(where: string, value: unknown): ClaimRequest {
  if (value === null) return {};
  if (!isObject(value)) throw new ClaimsRequestError(`${where} must be null or a JSON object`);
  // Core §5.5.1: members not understood are ignored
  const { essential, value: wanted, values } = value;
  if (essential !== undefined && typeof essential !== 'boolean') throw new ClaimsRequestError(`${where}.essential must be true or false`);
  if (values !== undefined && !Array.isArray(values)) throw new ClaimsRequestError(`${where}.values must be a JSON array`);
  return {
    ...(essential !== undefined ? { essential } : {}),
    ...(wanted !== undefined ? { value: wanted as Json } : {}),
    ...(values !== undefined ? { values: values as Json[] } : {}),
  };
}

/**
 * A claims request from its JSON value (the parsed parameter, or what claimsRequestToJson wrote).
 * Strict about shapes: the value and its members are objects, each claim null or an object with
 * a boolean `essential` and an array `values`. Lenient where Core §5.5 says to be: other members
 * and claims this server does not know (not in claims_supported) are ignored.
 */
export function claimsRequestFromJson(json: unknown): ClaimsRequest {
  if (!isObject(json)) throw new ClaimsRequestError('claims must be a JSON object');
  if (unstorable(json)) throw new ClaimsRequestError('claims contains text with NUL or unpaired surrogate characters');
  const request: { [member in ClaimsRequestMember]?: Record<string, ClaimRequest> } = {};
  for (const member of CLAIMS_REQUEST_MEMBERS) {
    const claims = json[member];
    if (claims === undefined) continue;
    if (!isObject(claims)) throw new ClaimsRequestError(`claims.${member} must be a JSON object`);
    const known: Record<string, ClaimRequest> = {};
    for (const [name, asked] of Object.entries(claims)) {
      const checked = claimRequest(`claims.${member}.${named(name)}`, asked);
      if (KNOWN_CLAIMS.has(name)) known[name] = checked;
    }
    if (Object.keys(known).length > 0) request[member] = known;
  }
  return request;
}

/** The claims parameter as sent: bounded, JSON, then claimsRequestFromJson. */
export function parseClaimsParameter(text: string): ClaimsRequest {
  if (text.length > MAX_CLAIMS_PARAMETER_LENGTH) throw new ClaimsRequestError(`claims is longer than ${MAX_CLAIMS_PARAMETER_LENGTH} characters`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClaimsRequestError('claims is not valid JSON');
  }
  return claimsRequestFromJson(json);
}

/** The canonical JSON text of a claims request; claimsRequestFromJson reads it back unchanged. */
export function claimsRequestToJson(request: ClaimsRequest): string {
  return JSON.stringify(request);
}

/** The names of the claims asked for in one member, in the order asked. */
export const requestedClaimNames = (request: ClaimsRequest | undefined, member: ClaimsRequestMember): string[] => Object.keys(request?.[member] ?? {});

/** Whether a claims request asks for nothing this server acts on. */
export const isEmptyClaimsRequest = (request: ClaimsRequest): boolean => CLAIMS_REQUEST_MEMBERS.every((member) => request[member] === undefined);

/** The values one claim is asked to have (Core §5.5.1 `value`, `values`), or undefined when it may have any. */
export function requestedValues(request: ClaimsRequest | undefined, member: ClaimsRequestMember, claim: string): readonly Json[] | undefined {
  const asked = request?.[member]?.[claim];
  if (asked === undefined || (asked.value === undefined && asked.values === undefined)) return undefined;
  return [...(asked.value !== undefined ? [asked.value] : []), ...(asked.values ?? [])];
}
