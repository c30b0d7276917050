import type { AccessTokenFormat, AdminClient } from '../admin-client/types.js';
import { APPLICATION_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../protocol/client-metadata-values.js';

/**
 * The "Add client" and "Edit client" form, without a terminal: which fields it has in which
 * section, how their text becomes an admin API body, and which field a server error names.
 * The form checks nothing the server checks; it only turns text into JSON (a list, a number of
 * seconds, a date), and says so when the text cannot be turned.
 */

export type FieldKind =
  /** free text; empty: not set */
  | 'text'
  /** a JSON array typed as comma- or space-separated text */
  | 'list'
  /** one of `options`, changed with ←/→ or space; '' is "not set": the server's default */
  | 'choice'
  /** a boolean: yes or no */
  | 'flag'
  /** a whole number of seconds */
  | 'seconds'
  /** an ISO date or date-time, sent as epoch seconds; empty: never (null) */
  | 'date';

export interface FormField {
  readonly name: string;
  readonly kind: FieldKind;
  readonly options?: readonly string[];
  /** List values that hold spaces themselves ("code id_token") are separated by commas only. */
  readonly commasOnly?: true;
  /** Shown beside the focused field. */
  readonly hint: string;
}

export interface FormSection {
  readonly title: string;
  readonly fields: readonly FormField[];
}

export const ACCESS_TOKEN_FORMATS = ['jwt', 'reference'] as const satisfies readonly AccessTokenFormat[];

const LIST_HINT = 'comma- or space-separated';
const WEB_URI_HINT = 'http(s) URL';

export const FORM_SECTIONS: readonly FormSection[] = [
  {
    title: 'Basics',
    fields: [
      { name: 'client_name', kind: 'text', hint: 'shown to users' },
      { name: 'application_type', kind: 'choice', options: ['', ...APPLICATION_TYPES], hint: '←/→ to change' },
    ],
  },
  {
    title: 'Redirect and other URIs',
    fields: [
      { name: 'redirect_uris', kind: 'list', hint: LIST_HINT },
      { name: 'post_logout_redirect_uris', kind: 'list', hint: LIST_HINT },
      { name: 'client_uri', kind: 'text', hint: WEB_URI_HINT },
      { name: 'logo_uri', kind: 'text', hint: WEB_URI_HINT },
      { name: 'policy_uri', kind: 'text', hint: WEB_URI_HINT },
      { name: 'tos_uri', kind: 'text', hint: WEB_URI_HINT },
    ],
  },
  {
    title: 'Authentication and keys',
    fields: [
      { name: 'token_endpoint_auth_method', kind: 'choice', options: ['', ...TOKEN_ENDPOINT_AUTH_METHODS], hint: '←/→ to change' },
      { name: 'jwks_uri', kind: 'text', hint: 'https URL of the client\'s key set' },
    ],
  },
  {
    title: 'Grants and scopes',
    fields: [
      { name: 'grant_types', kind: 'list', hint: LIST_HINT },
      { name: 'response_types', kind: 'list', commasOnly: true, hint: 'comma-separated ("code, code id_token")' },
      { name: 'scope', kind: 'text', hint: 'space-separated' },
    ],
  },
  {
    title: 'Tokens',
    fields: [
      { name: 'access_token_format', kind: 'choice', options: ['', ...ACCESS_TOKEN_FORMATS], hint: '←/→ to change' },
      { name: 'access_token_lifetime', kind: 'seconds', hint: 'seconds; empty: the server\'s default' },
    ],
  },
  {
    title: 'Lifecycle',
    fields: [
      { name: 'expires_at', kind: 'date', hint: 'ISO date (2027-01-31) or date-time; empty: never' },
      { name: 'disabled', kind: 'flag', hint: 'space to change' },
      { name: 'admin', kind: 'flag', hint: 'space to change; admin clients may use the admin API' },
      { name: 'resource_server', kind: 'flag', hint: 'space to change; resource servers may introspect every access token of this server' },
    ],
  },
];

export const FORM_FIELDS: readonly FormField[] = FORM_SECTIONS.flatMap((section) => section.fields);

/** The form's text, one string a field; flags are 'yes' or 'no'. */
export type FormValues = Readonly<Record<string, string>>;

export function emptyForm(): FormValues {
  return Object.fromEntries(FORM_FIELDS.map((field) => [field.name, field.kind === 'flag' ? 'no' : '']));
}

/** Epoch seconds as an ISO date-time, without milliseconds. */
export const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

function textOf(field: FormField, value: unknown): string {
  if (value === undefined || value === null) return field.kind === 'flag' ? 'no' : '';
  switch (field.kind) {
    case 'flag':
      return value === true ? 'yes' : 'no';
    case 'list':
      return Array.isArray(value) ? value.map(String).join(', ') : String(value);
    case 'date':
      return typeof value === 'number' ? isoSeconds(value) : String(value);
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

export function formFromClient(client: AdminClient): FormValues {
  return Object.fromEntries(FORM_FIELDS.map((field) => [field.name, textOf(field, client[field.name])]));
}

/** The values a choice field cycles through: its options, and a value the server holds beyond them. */
export function choicesOf(field: FormField, current: string): readonly string[] {
  const options = field.options ?? [];
  return options.includes(current) ? options : [current, ...options];
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

type Converted = { value: unknown } | { error: string };

/** One field's text as JSON: undefined for "not set", null for a date that is empty (never). */
function convert(field: FormField, text: string): Converted {
  const trimmed = text.trim();
  switch (field.kind) {
    case 'flag':
      return { value: trimmed === 'yes' };
    case 'list': {
      const items = trimmed.split(field.commasOnly ? /\s*,\s*/ : /[\s,]+/).filter((item) => item !== '');
      return { value: items.length === 0 ? undefined : items };
    }
    case 'seconds':
      if (trimmed === '') return { value: undefined };
      return /^\d+$/.test(trimmed) ? { value: Number(trimmed) } : { error: `${field.name}: "${trimmed}" is not a whole number of seconds` };
    case 'date': {
      if (trimmed === '') return { value: null };
      const ms = ISO_DATE.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
      if (Number.isNaN(ms)) return { error: `${field.name}: "${trimmed}" is not an ISO date such as 2027-01-31 or 2027-01-31T12:00:00Z` };
      return { value: Math.floor(ms / 1000) };
    }
    default:
      return { value: trimmed === '' ? undefined : trimmed };
  }
}

export interface ReadForm {
  /** Every field's JSON value (undefined: not set). */
  values: Record<string, unknown>;
  /** Fields whose text is not what their kind needs, by name. */
  errors: Record<string, string>;
}

export function readForm(form: FormValues): ReadForm {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of FORM_FIELDS) {
    const converted = convert(field, form[field.name] ?? '');
    if ('error' in converted) errors[field.name] = converted.error;
    else values[field.name] = converted.value;
  }
  return { values, errors };
}

/** The POST body of "Add client": the fields that are set. */
export function createBody(form: FormValues): { body: Record<string, unknown>; errors: Record<string, string> } {
  const { values, errors } = readForm(form);
  const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== null));
  return { body, errors };
}

/**
 * The merge patch (RFC 7396) of "Edit client": only the fields the operator changed, `null` for a
 * field emptied. A patch rather than a full replacement, because the form does not show every
 * field a client may have (jwks, contacts, signing algorithms, localized names): a PUT of the form
 * would drop them.
 */
export function patchBody(original: AdminClient, form: FormValues): { patch: Record<string, unknown>; errors: Record<string, string> } {
  const before = readForm(formFromClient(original)).values;
  const { values, errors } = readForm(form);
  const patch: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (JSON.stringify(value) !== JSON.stringify(before[name])) patch[name] = value ?? null;
  }
  return { patch, errors };
}

/**
 * The form field a server error is about: the one its description names first
 * (`redirect_uris[0] may use http only on a loopback host` names redirect_uris). A name counts only
 * as a whole word, so `redirect_uris` is not found inside `post_logout_redirect_uris`.
 */
export function fieldNamedIn(description: string): string | undefined {
  let found: { name: string; at: number } | undefined;
  for (const { name } of FORM_FIELDS) {
    const match = new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).exec(description);
    if (match && (found === undefined || match.index < found.at)) found = { name, at: match.index };
  }
  return found?.name;
}
