import { Ajv } from 'ajv';
import { ACCESS_TOKEN_FORMATS, MAX_ACCESS_TOKEN_LIFETIME } from '../config/config.js';
import { invalidRequest } from '../http/oauth-error.js';
import type { ClientSettings } from '../storage/client-repository.js';

/**
 * The operator settings as they appear in the admin API (beside the RFC 7591 metadata, flat):
 * the one list that parsing, the representation and the OpenAPI document follow. `null` means
 * "the server's default" for the token settings and "never" for expires_at.
 */
export const SETTING_FIELDS = {
  access_token_format: {
    schema: { enum: [...ACCESS_TOKEN_FORMATS, null] },
    rule: `one of ${ACCESS_TOKEN_FORMATS.join(', ')}, or null for the server default`,
    property: 'accessTokenFormat',
  },
  access_token_lifetime: {
    schema: { type: ['integer', 'null'], minimum: 1, maximum: MAX_ACCESS_TOKEN_LIFETIME },
    rule: `a whole number of seconds from 1 to ${MAX_ACCESS_TOKEN_LIFETIME}, or null for the server default`,
    property: 'accessTokenLifetime',
  },
  expires_at: {
    // up to the end of year 9999: the column is bigint, and nothing later is a real expiry
    schema: { type: ['integer', 'null'], minimum: 0, maximum: 253_402_300_799 },
    rule: 'a time in seconds since the epoch (before the year 10000), or null for never',
    property: 'expiresAt',
  },
  disabled: { schema: { type: 'boolean' }, rule: 'true or false', property: 'disabled' },
  admin: { schema: { type: 'boolean' }, rule: 'true or false', property: 'admin' },
  resource_server: { schema: { type: 'boolean' }, rule: 'true or false', property: 'resourceServer' },
} as const satisfies Record<string, { schema: object; rule: string; property: keyof ClientSettings }>;

export type SettingField = keyof typeof SETTING_FIELDS;
export const SETTING_FIELD_NAMES = Object.keys(SETTING_FIELDS) as SettingField[];

const ajv = new Ajv({ strict: true, allowUnionTypes: true });
const validators = new Map(SETTING_FIELD_NAMES.map((name) => [name, ajv.compile(SETTING_FIELDS[name].schema)]));

/**
 * The settings a request asks for: each field present replaces the one in `base`, each absent
 * keeps it. A value of the wrong type or out of range is refused by name, never coerced.
 */
export function parseSettings(input: Readonly<Record<string, unknown>>, base: ClientSettings): ClientSettings {
  const settings: Record<string, unknown> = { ...base };
  for (const name of SETTING_FIELD_NAMES) {
    if (!(name in input)) continue;
    if (!validators.get(name)!(input[name])) throw invalidRequest(`${name} must be ${SETTING_FIELDS[name].rule}`);
    settings[SETTING_FIELDS[name].property] = input[name];
  }
  return settings as unknown as ClientSettings;
}

/** The stored settings in the API's words, null where the client has none of its own. */
export function rawSettingsJson(settings: ClientSettings): Record<SettingField, unknown> {
  return Object.fromEntries(SETTING_FIELD_NAMES.map((name) => [name, settings[SETTING_FIELDS[name].property]])) as Record<SettingField, unknown>;
}

/** The settings as they take effect: defaults filled in, so the operator sees what tokens get. */
export function effectiveSettingsJson(settings: ClientSettings, defaults: { format: string; lifetimeSeconds: number }) {
  return {
    ...rawSettingsJson(settings),
    access_token_format: settings.accessTokenFormat ?? defaults.format,
    access_token_lifetime: settings.accessTokenLifetime ?? defaults.lifetimeSeconds,
  };
}
