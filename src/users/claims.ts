import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { invalidRequest } from '../http/oauth-error.js';
import { UNSTORABLE } from '../registration/validate-metadata.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;
const webUrl = { type: 'string', maxLength: 2000, format: 'uri', pattern: '^https?://' } as const;

/**
 * The standard claims of OpenID Connect Core 1.0 §5.1 a user account holds, each with the JSON
 * schema its value must meet. The one list: the admin API validates against it, the OpenAPI
 * document is checked against it, and userinfo and `claims_supported` will read it. `sub` (the
 * user's id) and `updated_at` are the server's own.
 */
export const USER_CLAIMS = {
  name: text(200),
  given_name: text(200),
  family_name: text(200),
  middle_name: text(200),
  nickname: text(200),
  preferred_username: text(200),
  profile: webUrl,
  picture: webUrl,
  website: webUrl,
  email: { type: 'string', maxLength: 254, format: 'email' },
  email_verified: { type: 'boolean' },
  gender: text(100),
  /** YYYY-MM-DD, or YYYY alone, or 0000-MM-DD when the year is withheld (§5.1). */
  birthdate: { type: 'string', pattern: '^([0-9]{4}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$' },
  /** A zoneinfo time zone name, such as Europe/Paris. */
  zoneinfo: { type: 'string', maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_+/-]*$' },
  /** A BCP 47 language tag, such as en-US (§5.1 allows fr_CA-style underscores too). */
  locale: { type: 'string', maxLength: 35, pattern: '^[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8})*$' },
  /** E.164, the format §5.1 recommends, with an optional RFC 3966 extension. */
  phone_number: { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}(;ext=[0-9]{1,10})?$' },
  phone_number_verified: { type: 'boolean' },
  /** The address claim of §5.1.1. */
  address: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      formatted: text(1000),
      street_address: text(500),
      locality: text(200),
      region: text(200),
      postal_code: text(20),
      country: text(100),
    },
  },
} as const satisfies Record<string, Record<string, unknown>>;

export type UserClaimName = keyof typeof USER_CLAIMS;
export const USER_CLAIM_NAMES = Object.keys(USER_CLAIMS) as UserClaimName[];

/** The claims whose value is a flag: false when absent, never cleared to nothing. */
export const VERIFIED_FLAGS: readonly UserClaimName[] = ['email_verified', 'phone_number_verified'];

const ajv = new Ajv({ strict: true, allErrors: false });
addFormats(ajv, ['email', 'uri']);
const validators = new Map<string, ValidateFunction>(USER_CLAIM_NAMES.map((name) => [name, ajv.compile(USER_CLAIMS[name])]));

export const isUserClaim = (name: string): name is UserClaimName => validators.has(name);

/** What a claim's schema asks, said plainly for the error description. */
function expectation(name: UserClaimName): string {
  const schema = USER_CLAIMS[name] as Record<string, unknown>;
  if (schema.type === 'boolean') return 'true or false';
  if (schema.type === 'object') return 'an object of formatted, street_address, locality, region, postal_code, country (text)';
  if (schema === webUrl) return 'an http(s) URL';
  if (name === 'email') return 'an e-mail address';
  if (name === 'birthdate') return 'a date YYYY-MM-DD or a year YYYY';
  if (name === 'phone_number') return 'a number in E.164 form, such as +33123456789';
  if (name === 'zoneinfo') return 'a time zone name such as Europe/Paris';
  if (name === 'locale') return 'a language tag such as en-US';
  return `text of 1 to ${String(schema.maxLength)} characters`;
}

/** Text the database cannot hold (NUL, lone surrogates), at any depth: refused, not a 500. */
const unstorable = (value: unknown): boolean =>
  typeof value === 'string' ? UNSTORABLE.test(value) : typeof value === 'object' && value !== null && Object.values(value).some(unstorable);

/** Checks one claim's value; the error names the claim and what it must be (never echoes the value). */
export function checkClaim(name: UserClaimName, value: unknown): void {
  const valid = validators.get(name)!(value) && !unstorable(value);
  if (!valid) throw invalidRequest(`${name} must be ${expectation(name)}`);
}
