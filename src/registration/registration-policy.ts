import { Ajv } from 'ajv';
import { SETTING_FIELDS } from '../admin/settings.js';
import { ACCESS_TOKEN_FORMATS } from '../config/config.js';
import { invalidClientMetadata, invalidRedirectUri, invalidRequest, type OAuthError } from '../http/oauth-error.js';
import { GRANT_TYPES, RESPONSE_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../protocol/client-metadata-values.js';
import type { ClientSettings } from '../storage/client-repository.js';
import { CLIENT_METADATA_FIELDS } from './metadata-fields.js';
import { isLoopbackHost } from './redirect-uris.js';

/** The longest client lifetime a policy may give (ten years), in seconds. */
export const MAX_CLIENT_LIFETIME = 10 * 365 * 86_400;
/** Upper bound of the client caps: a bound, so that a typo cannot store a meaningless number. */
export const MAX_CLIENT_CAP = 1_000_000;

const HOST_PATTERN = '^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$|^\\[[0-9a-f:.]+\\](:[0-9]{1,5})?$';

/** The metadata fields a policy can require: every one but software_statement (its own rule). */
export const REQUIRABLE_FIELDS = (Object.keys(CLIENT_METADATA_FIELDS) as (keyof typeof CLIENT_METADATA_FIELDS)[]).filter((f) => f !== 'software_statement');

/**
 * Every rule a registration policy may hold: its JSON schema and what it means. The one list that
 * the admin API validates against, the checks below follow, and the OpenAPI document (a test
 * compares them) describes. A rule that is absent does not restrict anything.
 */
export const POLICY_RULES = {
  redirect_uri_hosts: {
    schema: { type: 'array', items: { type: 'string', pattern: HOST_PATTERN, maxLength: 260 }, minItems: 1, maxItems: 100, uniqueItems: true },
    meaning: 'hosts https redirect_uris and post_logout_redirect_uris may point to (custom schemes are then refused): an exact host, or *.example.com for its subdomains, in normal form (lower case, punycode, IPv6 compressed); without a port it matches port 443 only, with one (not 443 or 80) that port only',
  },
  allow_loopback_redirects: {
    schema: { type: 'boolean' },
    meaning: 'whether redirect URIs on loopback hosts (localhost and *.localhost, 127.0.0.0/8, [::1], [::ffff:127.0.0.1]) are allowed (default true)',
  },
  grant_types: {
    schema: { type: 'array', items: { type: 'string', enum: [...GRANT_TYPES] }, minItems: 1, uniqueItems: true },
    meaning: 'the grant_types a client may register',
  },
  response_types: {
    schema: { type: 'array', items: { type: 'string', enum: [...RESPONSE_TYPES] }, uniqueItems: true },
    meaning: 'the response_types a client may register',
  },
  token_endpoint_auth_methods: {
    schema: { type: 'array', items: { type: 'string', enum: [...TOKEN_ENDPOINT_AUTH_METHODS] }, minItems: 1, uniqueItems: true },
    meaning: 'the token_endpoint_auth_method values a client may register',
  },
  scopes: {
    schema: { type: 'array', items: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', maxLength: 200 }, maxItems: 200, uniqueItems: true },
    meaning: 'the scope values a client may register',
  },
  max_clients: {
    schema: { type: 'integer', minimum: 0, maximum: MAX_CLIENT_CAP },
    meaning: 'how many clients registered under this policy may exist at once',
  },
  max_clients_per_token: {
    schema: { type: 'integer', minimum: 0, maximum: MAX_CLIENT_CAP },
    meaning: 'how many clients registered with one initial access token may exist at once',
  },
  required_fields: {
    schema: { type: 'array', items: { type: 'string', enum: [...REQUIRABLE_FIELDS] }, uniqueItems: true },
    meaning: 'metadata fields a registration (and an RFC 7592 update) request must include itself, defaults not counting',
  },
  require_software_statement: {
    schema: { type: 'boolean' },
    meaning: 'registrations must carry a software_statement; true is refused until this server accepts software statements',
  },
  access_token_format: {
    schema: { type: 'string', enum: [...ACCESS_TOKEN_FORMATS] },
    meaning: 'the access_token_format clients registered under this policy get',
  },
  access_token_lifetime: {
    schema: { type: 'integer', minimum: SETTING_FIELDS.access_token_lifetime.schema.minimum, maximum: SETTING_FIELDS.access_token_lifetime.schema.maximum },
    meaning: 'the access_token_lifetime (seconds) clients registered under this policy get',
  },
  client_lifetime: {
    schema: { type: 'integer', minimum: 1, maximum: MAX_CLIENT_LIFETIME },
    meaning: 'seconds after registration at which a client registered under this policy expires (its expires_at)',
  },
} as const satisfies Record<string, { schema: object; meaning: string }>;

export type PolicyRuleName = keyof typeof POLICY_RULES;
export const POLICY_RULE_NAMES = Object.keys(POLICY_RULES) as PolicyRuleName[];

export interface PolicyRules {
  redirect_uri_hosts?: string[];
  allow_loopback_redirects?: boolean;
  grant_types?: string[];
  response_types?: string[];
  token_endpoint_auth_methods?: string[];
  scopes?: string[];
  max_clients?: number;
  max_clients_per_token?: number;
  required_fields?: string[];
  require_software_statement?: boolean;
  access_token_format?: 'jwt' | 'reference';
  access_token_lifetime?: number;
  client_lifetime?: number;
}

export interface RegistrationPolicy {
  name: string;
  rules: PolicyRules;
}

export const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const ajv = new Ajv({ strict: true, allowUnionTypes: true });
const ruleValidators = new Map(POLICY_RULE_NAMES.map((name) => [name, ajv.compile(POLICY_RULES[name].schema)]));

/**
 * A policy's rules as sent to the admin API, checked strictly when saved: an unknown rule, a value
 * of the wrong shape or a rule this server cannot honour yet is refused by name, never dropped.
 */
export function parsePolicyRules(input: unknown): PolicyRules {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalidRequest('rules must be a JSON object of policy rules');
  const rules = input as Record<string, unknown>;
  const unknown = Object.keys(rules).filter((name) => !(POLICY_RULE_NAMES as string[]).includes(name));
  if (unknown.length > 0) throw invalidRequest(`unknown policy rule ${unknown.join(', ')} (known: ${POLICY_RULE_NAMES.join(', ')})`);
  if (Array.isArray(rules.redirect_uri_hosts)) {
    for (const pattern of rules.redirect_uri_hosts) if (typeof pattern === 'string') checkHostPattern(pattern);
  }
  for (const name of POLICY_RULE_NAMES) {
    if (!(name in rules)) continue;
    const validate = ruleValidators.get(name)!;
    if (!validate(rules[name])) {
      const error = validate.errors?.[0];
      throw invalidRequest(`rule ${name}${error?.instancePath ?? ''} ${error?.message ?? 'is not valid'}: ${POLICY_RULES[name].meaning}`);
    }
  }
  if (rules.require_software_statement === true) {
    throw invalidRequest('rule require_software_statement cannot be true yet: this server refuses every software_statement, so no client could register');
  }
  return structuredClone(rules) as PolicyRules;
}

/**
 * A host pattern is compared with `URL.host` of an https redirect URI, so one that is not in the
 * form URL gives could never match: it is refused, naming that form, instead of stored dead.
 */
function checkHostPattern(pattern: string): void {
  const wildcard = pattern.startsWith('*.');
  const host = wildcard ? `x${pattern.slice(1)}` : pattern;
  let url: URL | undefined;
  try {
    url = new URL(`https://${host}`);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '' || host.endsWith('/')) {
    throw invalidRequest(`rule redirect_uri_hosts: ${pattern} is not a host or host:port`);
  }
  const port = /:([0-9]+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) === 443 || Number(port) === 80)) {
    const bare = pattern.slice(0, -port.length - 1);
    throw invalidRequest(
      `rule redirect_uri_hosts: ${pattern} names port ${Number(port)}; only https URIs are bound to hosts, and ${bare} without a port matches https's default port 443 (write ${bare})`,
    );
  }
  const normal = wildcard ? `*${url.host.slice(1)}` : url.host;
  if (normal !== pattern) throw invalidRequest(`rule redirect_uri_hosts: ${pattern} is not in normal form, which redirect URIs are compared in (write ${normal})`);
  if (isLoopbackHost(url.hostname)) {
    throw invalidRequest(`rule redirect_uri_hosts: ${pattern} is a loopback host; loopback redirects are governed by allow_loopback_redirects, not by redirect_uri_hosts`);
  }
}

const refusal = (policy: RegistrationPolicy, rule: PolicyRuleName, problem: string, redirect = false): OAuthError =>
  (redirect ? invalidRedirectUri : invalidClientMetadata)(`${problem} (rule ${rule} of registration policy ${policy.name})`);

/**
 * `host` is `URL.host` of an https URI: its port is absent when it is 443. So a pattern without a
 * port matches port 443 only, one with a port that port only; `*.example.com` matches the
 * subdomains of example.com (any depth, not example.com itself) the same way.
 */
function hostAllowed(host: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern));
}

function checkRedirects(policy: RegistrationPolicy, metadata: Readonly<Record<string, unknown>>): void {
  const { redirect_uri_hosts: hosts, allow_loopback_redirects: loopbackAllowed = true } = policy.rules;
  if (hosts === undefined && loopbackAllowed) return;
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    const uris = (metadata[field] as string[] | undefined) ?? [];
    for (const [index, raw] of uris.entries()) {
      const url = new URL(raw); // validated before: absolute
      const web = url.protocol === 'https:' || url.protocol === 'http:';
      // a custom scheme's "host" is no network host: com.app://localhost/cb is not loopback
      const loopback = web && isLoopbackHost(url.hostname);
      const where = `${field}[${index}]`;
      const redirect = field === 'redirect_uris';
      if (loopback) {
        if (!loopbackAllowed) throw refusal(policy, 'allow_loopback_redirects', `${where} is a loopback address, which this policy does not allow`, redirect);
        continue;
      }
      if (hosts === undefined) continue;
      // the host of a custom scheme says nothing about who receives the redirect: only https is
      // bound to the host (registration already refuses http off loopback)
      if (url.protocol !== 'https:') {
        throw refusal(policy, 'redirect_uri_hosts', `${where} uses ${url.protocol.slice(0, -1)}; this policy allows only https URIs on ${hosts.join(', ')}`, redirect);
      }
      if (!hostAllowed(url.host, hosts)) {
        throw refusal(policy, 'redirect_uri_hosts', `${where} host ${url.host} is not one this policy trusts (${hosts.join(', ')})`, redirect);
      }
    }
  }
}

function checkSubset(policy: RegistrationPolicy, rule: 'grant_types' | 'response_types' | 'token_endpoint_auth_methods' | 'scopes', field: string, values: readonly string[]): void {
  const allowed = policy.rules[rule];
  if (allowed === undefined) return;
  const refused = values.filter((value) => !allowed.includes(value));
  if (refused.length > 0) {
    throw refusal(policy, rule, `${field} ${refused.join(' ')} is not allowed (allowed: ${allowed.length > 0 ? allowed.join(' ') : 'none'})`);
  }
}

/**
 * The checks of a policy on validated metadata (defaults applied: what the client would get is
 * what is checked), but required_fields on `request`, the registration or update request as sent.
 * Each refusal names the rule and the policy; nothing is trimmed or repaired.
 * The client caps are counted in the registration's transaction, not here.
 */
export function checkPolicy(policy: RegistrationPolicy, request: Readonly<Record<string, unknown>>, metadata: Readonly<Record<string, unknown>>): void {
  for (const field of policy.rules.required_fields ?? []) {
    // the request as sent, not the metadata: defaults would make grant_types & co. always present.
    // A field it names, in any language variant, counts; null means absent, as in validation.
    const present = Object.entries(request).some(([key, value]) => (key === field || key.startsWith(`${field}#`)) && value !== null);
    if (!present) throw refusal(policy, 'required_fields', `${field} is required`);
  }
  if (policy.rules.require_software_statement === true && request.software_statement === undefined) {
    throw refusal(policy, 'require_software_statement', 'software_statement is required');
  }
  checkRedirects(policy, metadata);
  checkSubset(policy, 'grant_types', 'grant_types', (metadata.grant_types as string[] | undefined) ?? []);
  checkSubset(policy, 'response_types', 'response_types', (metadata.response_types as string[] | undefined) ?? []);
  checkSubset(policy, 'token_endpoint_auth_methods', 'token_endpoint_auth_method', [metadata.token_endpoint_auth_method as string]);
  checkSubset(policy, 'scopes', 'scope', typeof metadata.scope === 'string' ? metadata.scope.split(' ') : []);
}

/** The operator settings a new client gets under `policy`; the server's defaults for the rest. */
export function policySettings(rules: PolicyRules, base: ClientSettings, now: number): ClientSettings {
  return {
    ...base,
    ...(rules.access_token_format !== undefined ? { accessTokenFormat: rules.access_token_format } : {}),
    ...(rules.access_token_lifetime !== undefined ? { accessTokenLifetime: rules.access_token_lifetime } : {}),
    ...(rules.client_lifetime !== undefined ? { expiresAt: now + rules.client_lifetime } : {}),
  };
}
