/**
 * The OpenAPI document is a contract: this file checks it against the code's single sources of
 * truth (metadata fields, protocol constants, error table, discovery builder), then drives a real
 * server over HTTP and validates every response it gets against the document. A status, header or
 * body the document does not describe fails the test, and so does a documented response that no
 * request here produced.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { adminClient, DEFAULT_PAGE_SIZE, MAX_GRACE_PERIOD_SECONDS, MAX_PAGE_SIZE } from '../../src/admin/clients.js';
import { SERVER_KEY_STATES } from '../../src/admin/keys.js';
import { AUDIT_ACTIONS, AUDIT_ACTOR_TYPES } from '../../src/audit/audit.js';
import { ADMIN_PATH } from '../../src/admin/routes.js';
import { ADMIN_SCOPE_VALUES, ADMIN_SCOPES } from '../../src/admin/scopes.js';
import { SETTING_FIELD_NAMES, SETTING_FIELDS } from '../../src/admin/settings.js';
import { CREATED_VIA, INITIAL_ACCESS_TOKEN_STATES, type AdminCredentials } from '../../src/admin-client/types.js';
import { MAX_DESCRIPTION_LENGTH, MAX_LISTED_TOKENS, MAX_TOKEN_LIFETIME, MAX_TOKEN_USES } from '../../src/admin/initial-access-tokens.js';
import { POLICY_RULE_NAMES, POLICY_RULES, REQUIRABLE_FIELDS } from '../../src/registration/registration-policy.js';
import { JWT_BEARER_ASSERTION_TYPE, MAX_ASSERTION_LENGTH } from '../../src/client-auth/client-assertion.js';
import { ACCESS_TOKEN_FORMATS, SERVER_SIGNING_ALGS } from '../../src/config/config.js';
import { buildProviderMetadata } from '../../src/discovery/provider-metadata.js';
import { ACR_VALUES_SUPPORTED } from '../../src/protocol/acr.js';
import { UI_LOCALES_SUPPORTED } from '../../src/protocol/ui-locales.js';
import { ENDPOINT_PATHS, endpointUrls } from '../../src/http/endpoints.js';
import { insufficientScope, OAUTH_ERRORS } from '../../src/http/oauth-error.js';
import { RETRY_AFTER_SECONDS } from '../../src/http/error-handler.js';
import { DatabaseUnavailableError } from '../../src/storage/unavailable.js';
import { PRIVATE_JWK_MEMBERS } from '../../src/protocol/jwk.js';
import { CONTENT_ENCRYPTION_ALGS, KEY_MANAGEMENT_ALGS, SIGNING_ALGS } from '../../src/protocol/algorithms.js';
import {
  APPLICATION_TYPES,
  CLAIMS_SUPPORTED,
  GRANT_TYPES,
  RESPONSE_TYPES,
  SUBJECT_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
} from '../../src/protocol/client-metadata-values.js';
import { CLIENT_METADATA_FIELDS, SERVER_ISSUED_FIELDS, type FieldSpec } from '../../src/registration/metadata-fields.js';
import { ClientRepository, DEFAULT_SETTINGS } from '../../src/storage/client-repository.js';
import type { Queryable } from '../../src/storage/database.js';
import { TOKEN_ENDPOINT_GRANT_TYPES } from '../../src/tokens/grants.js';
import { CODE_CHALLENGE_METHODS, RESPONSE_MODES } from '../../src/authorization/authorize/request.js';
import { AuthorizationRepository, ConsentRepository } from '../../src/storage/authorization-repository.js';
import { USER_CLAIMS } from '../../src/users/claims.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../../src/users/password.js';
import { USERNAME } from '../../src/users/username.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { mintIdToken } from '../support/id-tokens.js';
import { KeyServer } from '../support/key-server.js';
import { createUser, Visitor } from '../support/sign-in.js';
import { request, startTestServer, storageKind, type TestServer } from '../support/test-server.js';

type JsonObject = Record<string, unknown>;

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const DOC_URL = new URL('../../openapi/openapi.yaml', import.meta.url);
const DOC_ID = 'https://oidc-registrar.invalid/openapi.yaml';
const doc = parse(readFileSync(DOC_URL, 'utf8')) as JsonObject;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

// ---------------------------------------------------------------------------------------------
// Walking the document

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function asObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new Error(`${where} is not an object in openapi.yaml`);
  return value;
}

const escapeToken = (token: string): string => token.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapeToken = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');
const pointerOf = (...tokens: string[]): string => tokens.map((t) => `/${escapeToken(t)}`).join('');

/** The node at a JSON pointer (RFC 6901) of the document, or undefined. */
function at(pointer: string): unknown {
  let node: unknown = doc;
  for (const token of pointer.split('/').slice(1).map(unescapeToken)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** Follows `$ref`s from a pointer; returns the final node and its own pointer. */
function follow(pointer: string): { node: JsonObject; pointer: string } {
  let current = pointer;
  for (let hops = 0; hops < 20; hops++) {
    const node = asObject(at(current), current);
    if (typeof node.$ref !== 'string') return { node, pointer: current };
    if (!node.$ref.startsWith('#/')) throw new Error(`${current}: only local $refs are expected, got ${node.$ref}`);
    current = node.$ref.slice(1);
  }
  throw new Error(`${pointer}: $ref cycle`);
}

/** A schema with its `$ref` resolved and the siblings of the `$ref` laid over the target. */
function derefSchema(schema: unknown, where: string): JsonObject {
  const node = asObject(schema, where);
  if (typeof node.$ref !== 'string') return node;
  const { $ref: ref, ...siblings } = node as JsonObject & { $ref: string };
  return { ...derefSchema(at(ref.slice(1)), ref), ...siblings };
}

const schemas = asObject(asObject(doc.components, 'components').schemas, 'components.schemas');
const schema = (name: string): JsonObject => asObject(schemas[name], `components.schemas.${name}`);
const clientMetadata = schema('ClientMetadata');
const metadataProperties = asObject(clientMetadata.properties, 'ClientMetadata.properties');
const metadataPatterns = asObject(clientMetadata.patternProperties, 'ClientMetadata.patternProperties');

interface Operation {
  template: string;
  method: string;
  pointer: string;
  node: JsonObject;
  pattern: RegExp;
}

const operations: Operation[] = Object.entries(asObject(doc.paths, 'paths')).flatMap(([template, item]) =>
  METHODS.filter((method) => isObject(asObject(item, template)[method])).map((method) => ({
    template,
    method,
    pointer: pointerOf('paths', template, method),
    node: asObject(asObject(item, template)[method], `${template} ${method}`),
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
  })),
);

const operationKey = (op: Operation): string => `${op.method.toUpperCase()} ${op.template}`;

/** Every documented (operation, status) pair, with the error codes the response allows. */
function documentedResponses(): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const op of operations) {
    for (const status of Object.keys(asObject(op.node.responses, `${op.pointer}/responses`))) {
      const response = follow(`${op.pointer}/responses/${status}`);
      result.set(`${operationKey(op)} ${status}`, new Set(errorCodesOf(response.node)));
    }
  }
  return result;
}

/** The error codes an error response's schema allows (`allOf: [OAuthError, {error: enum|const}]`). */
function errorCodesOf(response: JsonObject): string[] {
  const content = isObject(response.content) ? response.content : {};
  const media = isObject(content['application/json']) ? content['application/json'] : {};
  const mediaSchema = isObject(media.schema) ? media.schema : {};
  const parts = Array.isArray(mediaSchema.allOf) ? (mediaSchema.allOf as unknown[]) : [];
  if (!parts.some((part) => isObject(part) && part.$ref === '#/components/schemas/OAuthError')) return [];
  for (const part of parts) {
    if (!isObject(part) || !isObject(part.properties) || !isObject(part.properties.error)) continue;
    const error = part.properties.error;
    if (typeof error.const === 'string') return [error.const];
    if (Array.isArray(error.enum)) return error.enum as string[];
  }
  throw new Error('an error response must narrow `error` to the codes it can carry');
}

// ---------------------------------------------------------------------------------------------
// Validation with Ajv against the document itself

/**
 * Ajv sees the whole document under DOC_ID, so `#/components/...` references resolve. In this
 * copy the response bodies that the API fully controls refuse undocumented members
 * (`unevaluatedProperties: false`), so a field added to the code but not to the document fails.
 * The published document keeps them open, as RFC 7591 §3.2.1 and RFC 8414 §3.2 ask clients to
 * ignore unknown members.
 */
function buildAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  const strictDoc = structuredClone(doc);
  const strictSchemas = asObject(asObject(strictDoc.components, 'components').schemas, 'schemas');
  for (const name of [
    'ClientInformation', 'ProviderMetadata', 'Health', 'TokenResponse', 'IntrospectionResponse', 'JsonWebKeySet', 'ServerPublicKey',
    'AdminClientFields', 'ClientPage', 'ServerKeyList', 'ServerKeyInfo', 'AuditEntry', 'AuditPage', 'RegistrationPolicy', 'InitialAccessTokenList', 'RegistrationPolicyList',
  ]) {
    asObject(strictSchemas[name], name).unevaluatedProperties = false;
  }
  // The document's own top-level members (openapi, info, paths, components...) are no schema
  // keywords; declared as annotations, strict mode still refuses any unknown keyword in a schema.
  for (const member of Object.keys(strictDoc)) ajv.addKeyword(member);
  ajv.addSchema({ ...strictDoc, $id: DOC_ID });
  return ajv;
}

const ajv = buildAjv();
const validators = new Map<string, ValidateFunction>();

/** A validator for the schema at a pointer of the document. */
function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    const fragment = pointer.split('/').slice(1).map(encodeURIComponent).join('/');
    validate = ajv.compile({ $ref: `${DOC_ID}#/${fragment}` });
    validators.set(pointer, validate);
  }
  return validate;
}

function schemaProblems(pointer: string, value: unknown): string[] {
  const validate = validatorAt(pointer);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

// ---------------------------------------------------------------------------------------------
// Checking a real exchange against the document

interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

/** What has been seen: `METHOD template status` -> error codes. */
const seen = new Map<string, Set<string>>();

function findOperation(method: string, path: string): Operation | undefined {
  const bare = path.split('?')[0] ?? path;
  return operations.find((op) => op.method === method.toLowerCase() && op.pattern.test(bare));
}

/** Every way the response departs from the document; empty when it conforms. */
function responseProblems(exchange: Exchange): string[] {
  const label = `${exchange.method} ${exchange.path} -> ${exchange.status}`;
  const op = findOperation(exchange.method, exchange.path);
  let responsePointer: string;
  if (op) {
    const responses = asObject(op.node.responses, `${op.pointer}/responses`);
    if (!(String(exchange.status) in responses)) {
      return [`${label}: ${operationKey(op)} does not document status ${exchange.status}`];
    }
    responsePointer = `${op.pointer}/responses/${exchange.status}`;
  } else {
    // Only the not_found answer is described for requests that match no operation.
    if (exchange.status !== 404) return [`${label}: no operation matches and the status is not 404`];
    responsePointer = '/components/responses/NotFound';
  }
  const response = follow(responsePointer);
  const problems: string[] = [];

  for (const name of Object.keys(isObject(response.node.headers) ? response.node.headers : {})) {
    const header = follow(`${response.pointer}/headers/${escapeToken(name)}`);
    const value = exchange.headers.get(name);
    if (value === null) {
      if (header.node.required === true) problems.push(`${label}: required header ${name} is missing`);
      continue;
    }
    problems.push(...schemaProblems(`${header.pointer}/schema`, value).map((p) => `${label}: header ${name}: ${p}`));
  }

  const content = isObject(response.node.content) ? response.node.content : undefined;
  if (content === undefined) {
    if (exchange.text !== '') problems.push(`${label}: the document describes no body, got ${exchange.text.slice(0, 200)}`);
    return problems;
  }
  const mediaType = (exchange.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!(mediaType in content)) {
    problems.push(`${label}: content type "${mediaType}" is not documented (${Object.keys(content).join(', ')})`);
    return problems;
  }
  const schemaPointer = `${response.pointer}/content/${escapeToken(mediaType)}/schema`;
  // /metrics: Prometheus text, checked as such by test/metrics with a Prometheus parser
  // HTML pages (/authorize, /logout) are checked as pages by test/authorization
  // JWTs (/userinfo as the client registered) are checked as such by test/tokens/encrypted-responses.test.ts
  if (mediaType === 'text/plain' || mediaType === 'text/html' || mediaType === 'application/jwt') return [...problems, ...schemaProblems(schemaPointer, exchange.text).map((p) => `${label}: body ${p}`)];
  if (exchange.body === undefined) {
    problems.push(`${label}: a JSON body is documented, got ${JSON.stringify(exchange.text.slice(0, 200))}`);
    return problems;
  }
  problems.push(...schemaProblems(schemaPointer, exchange.body).map((p) => `${label}: body ${p}`));
  return problems;
}

/** Checks a real exchange against the document and records it for the coverage check. */
function conforms(exchange: Exchange): void {
  expect(responseProblems(exchange)).toEqual([]);
  const op = findOperation(exchange.method, exchange.path);
  const key = op ? `${operationKey(op)} ${exchange.status}` : `unmatched ${exchange.status}`;
  const codes = seen.get(key) ?? new Set<string>();
  const error = isObject(exchange.body) ? exchange.body.error : undefined;
  if (typeof error === 'string') codes.add(error);
  seen.set(key, codes);
}

type RequestOptions = NonNullable<Parameters<typeof request>[3]>;

/** Makes a real request, checks the response against the document, and returns it. */
async function call(server: TestServer, method: string, path: string, options: RequestOptions = {}): Promise<Exchange> {
  const response = await request(server, method, path, options);
  const exchange: Exchange = { method, path, ...response };
  conforms(exchange);
  return exchange;
}

const FORM = 'application/x-www-form-urlencoded';

type Attempt = [method: string, path: string, options: RequestOptions];

/** What the document promises while the database fails outright, and while it is out of reach. */
const TROUBLE_ANSWERS = { failing: [500, 'server_error'], unreachable: [503, 'temporarily_unavailable'] } as const;
type Trouble = keyof typeof TROUBLE_ANSWERS;

/**
 * Runs `check` while every query of `target` fails, then while the database is out of reach
 * (test/storage/database-outage.test.ts makes it so for real); the database works again after.
 */
async function withDatabaseTrouble(target: TestServer, check: (trouble: Trouble) => Promise<void>): Promise<void> {
  const failing = vi.spyOn(target.db, 'query').mockRejectedValue(new Error('database is down (injected by the test)'));
  const failingPing = vi.spyOn(target.db, 'ping').mockRejectedValue(new Error('database is down (injected by the test)'));
  // changes go through a transaction (the change and its audit entry), not through query
  const failingTransaction = vi.spyOn(target.db, 'transaction').mockRejectedValue(new Error('database is down (injected by the test)'));
  try {
    await check('failing');
    failing.mockRejectedValue(new DatabaseUnavailableError('ECONNREFUSED'));
    failingTransaction.mockRejectedValue(new DatabaseUnavailableError('ECONNREFUSED'));
    await check('unreachable');
  } finally {
    failing.mockRestore();
    failingPing.mockRestore();
    failingTransaction.mockRestore();
  }
}

async function expectTroubleAnswers(target: TestServer, attempts: readonly Attempt[], trouble: Trouble): Promise<void> {
  for (const [method, path, options] of attempts) {
    const res = await call(target, method, path, options);
    expect([res.status, (res.body as JsonObject).error], `${method} ${path}`).toEqual(TROUBLE_ANSWERS[trouble]);
    if (trouble === 'unreachable') expect(res.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
  }
}

/** The pointer of an operation's request body schema (JSON unless another media type is named). */
function requestSchemaPointer(method: string, template: string, mediaType = 'application/json'): string {
  return `${pointerOf('paths', template, method, 'requestBody', 'content', mediaType)}/schema`;
}

// ---------------------------------------------------------------------------------------------
// The document against the code

/** JSON Schema keywords that constrain a value (as opposed to annotating it). */
const CONSTRAINTS = [
  'type', 'enum', 'const', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'items', 'minItems', 'maxItems', 'uniqueItems',
  'properties', 'required', 'additionalProperties', 'patternProperties', 'minProperties', 'maxProperties',
  'allOf', 'anyOf', 'oneOf', 'not',
];

/**
 * The document's schema for a field must state exactly the constraints of the code's schema,
 * except `format: uri`, which the document adds to the fields that carry a URI rule.
 */
function fieldSchemaProblems(where: string, documented: JsonObject, code: Readonly<Record<string, unknown>>, uriField: boolean): string[] {
  const problems: string[] = [];
  for (const keyword of CONSTRAINTS) {
    const mine = documented[keyword];
    const theirs = code[keyword];
    if (keyword === 'format' && uriField && theirs === undefined) {
      if (mine !== undefined && mine !== 'uri') problems.push(`${where}: format ${String(mine)}`);
      continue;
    }
    if (keyword === 'items' && theirs !== undefined) {
      if (mine === undefined) problems.push(`${where}: items missing`);
      else problems.push(...fieldSchemaProblems(`${where}.items`, derefSchema(mine, `${where}.items`), theirs as JsonObject, uriField));
      continue;
    }
    if (keyword === 'properties' && theirs !== undefined) {
      const mineProps = isObject(mine) ? mine : {};
      const theirProps = theirs as JsonObject;
      if (Object.keys(mineProps).sort().join() !== Object.keys(theirProps).sort().join()) problems.push(`${where}: properties differ`);
      for (const [name, sub] of Object.entries(theirProps)) {
        if (mineProps[name] !== undefined) {
          problems.push(...fieldSchemaProblems(`${where}.${name}`, derefSchema(mineProps[name], name), sub as JsonObject, false));
        }
      }
      continue;
    }
    if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
      problems.push(`${where}: ${keyword} is ${JSON.stringify(mine)} in openapi.yaml but ${JSON.stringify(theirs)} in the code`);
    }
  }
  return problems;
}

/** Every `enum` in the document, with its pointer. */
function enumsIn(node: unknown, pointer = ''): { pointer: string; values: unknown[] }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => enumsIn(item, `${pointer}/${i}`));
  if (!isObject(node)) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'enum' && Array.isArray(value)
      ? [{ pointer: `${pointer}/enum`, values: value as unknown[] }]
      : enumsIn(value, `${pointer}/${escapeToken(key)}`),
  );
}

function refsIn(node: unknown, pointer = ''): { pointer: string; ref: string }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => refsIn(item, `${pointer}/${i}`));
  if (!isObject(node)) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [{ pointer, ref: value }] : refsIn(value, `${pointer}/${escapeToken(key)}`),
  );
}

const enumOf = (name: string): unknown => schema(name).enum;

describe('openapi.yaml against the code', () => {
  it('is an OpenAPI 3.1.0 document whose references all resolve', () => {
    expect(doc.openapi).toBe('3.1.0');
    const dangling = refsIn(doc).filter(({ ref }) => !ref.startsWith('#/') || at(ref.slice(1)) === undefined);
    expect(dangling).toEqual([]);
    const ids = operations.map((op) => op.node.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of operations) {
      expect(typeof op.node.description, operationKey(op)).toBe('string');
      expect(Array.isArray(op.node.security), `${operationKey(op)} states its security`).toBe(true);
    }
  });

  it('documents every endpoint the server serves', () => {
    expect(operations.map(operationKey).sort()).toEqual(
      [
        'GET /.well-known/openid-configuration',
        'GET /.well-known/oauth-authorization-server',
        'GET /authorize',
        'POST /authorize',
        'POST /register',
        'GET /register/{client_id}',
        'PUT /register/{client_id}',
        'DELETE /register/{client_id}',
        'POST /token',
        'GET /userinfo',
        'POST /userinfo',
        'POST /introspect',
        'POST /revoke',
        'GET /jwks',
        'GET /logout',
        'POST /logout',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /admin/clients',
        'POST /admin/clients',
        'GET /admin/clients/{client_id}',
        'PUT /admin/clients/{client_id}',
        'PATCH /admin/clients/{client_id}',
        'DELETE /admin/clients/{client_id}',
        'POST /admin/clients/{client_id}/disable',
        'POST /admin/clients/{client_id}/enable',
        'POST /admin/clients/{client_id}/rotate-secret',
        'POST /admin/clients/{client_id}/rotate-registration-token',
        'GET /admin/keys',
        'POST /admin/keys/rotate',
        'GET /admin/audit',
        'GET /admin/initial-access-tokens',
        'POST /admin/initial-access-tokens',
        'GET /admin/initial-access-tokens/{id}',
        'POST /admin/initial-access-tokens/{id}/revoke',
        'GET /admin/policies',
        'POST /admin/policies',
        'GET /admin/policies/{name}',
        'PUT /admin/policies/{name}',
        'DELETE /admin/policies/{name}',
        'PUT /admin/default-policy',
        'DELETE /admin/default-policy',
        'GET /admin/users',
        'POST /admin/users',
        'GET /admin/users/{id}',
        'PATCH /admin/users/{id}',
        'DELETE /admin/users/{id}',
        'POST /admin/users/{id}/disable',
        'POST /admin/users/{id}/enable',
        'POST /admin/users/{id}/set-password',
        'GET /admin/users/{id}/consents',
        'DELETE /admin/users/{id}/consents/{client_id}',
      ].sort(),
    );
    // The paths are the ones the routes and discovery read.
    const paths = Object.keys(asObject(doc.paths, 'paths'));
    for (const path of Object.values(ENDPOINT_PATHS)) expect(paths, path).toContain(path);
    const admin = operations.filter((op) => op.node.tags !== undefined && (op.node.tags as string[]).includes('admin'));
    expect(admin.map((op) => op.template).filter((path) => !path.startsWith(`${ADMIN_PATH}/`))).toEqual([]);
  });

  it('compiles every schema of the document in strict mode', () => {
    for (const name of Object.keys(schemas)) expect(() => validatorAt(pointerOf('components', 'schemas', name)), name).not.toThrow();
  });

  it('lists exactly the fields of CLIENT_METADATA_FIELDS in ClientMetadata', () => {
    expect(Object.keys(metadataProperties).sort()).toEqual(Object.keys(CLIENT_METADATA_FIELDS).sort());
  });

  it('gives each metadata field the type, limits, enum and default of its code schema', () => {
    const problems = Object.entries(CLIENT_METADATA_FIELDS as Record<string, FieldSpec>).flatMap(([name, spec]) => {
      const documented = derefSchema(metadataProperties[name], `ClientMetadata.properties.${name}`);
      const issues = fieldSchemaProblems(name, documented, spec.schema, spec.uri !== undefined);
      if (JSON.stringify(documented.default) !== JSON.stringify(spec.default)) {
        issues.push(`${name}: default is ${JSON.stringify(documented.default)} in openapi.yaml but ${JSON.stringify(spec.default)} in the code`);
      }
      if (spec.uri !== undefined && documented.format !== 'uri' && !isObject(documented.items)) issues.push(`${name}: should be format uri`);
      return issues;
    });
    expect(problems).toEqual([]);
  });

  it('allows field#language-tag variants for exactly the localizable fields, with the base schema', () => {
    const patterns = Object.entries(metadataPatterns).map(([source, sub]) => ({ regex: new RegExp(source, 'u'), sub: asObject(sub, source) }));
    for (const [name, spec] of Object.entries(CLIENT_METADATA_FIELDS as Record<string, FieldSpec>)) {
      for (const tag of ['en', 'fr-CA', 'zh-Hant-TW']) {
        const matching = patterns.filter((p) => p.regex.test(`${name}#${tag}`));
        expect(matching.length, `${name}#${tag}`).toBe(spec.localizable ? 1 : 0);
        for (const { sub } of matching) expect(sub.$ref).toBe(`#/components/schemas/ClientMetadata/properties/${name}`);
      }
      for (const bad of [`${name}#`, `${name}#en_US`, `${name}#en#fr`]) {
        expect(patterns.some((p) => p.regex.test(bad)), bad).toBe(false);
      }
    }
  });

  it('uses the code constants for every enumeration', () => {
    expect(enumOf('TokenEndpointAuthMethod')).toEqual([...TOKEN_ENDPOINT_AUTH_METHODS]);
    expect(enumOf('GrantType')).toEqual([...GRANT_TYPES]);
    expect(enumOf('SigningAlg')).toEqual([...SIGNING_ALGS]);
    expect(enumOf('KeyManagementAlg')).toEqual([...KEY_MANAGEMENT_ALGS]);
    expect(enumOf('ContentEncryptionAlg')).toEqual([...CONTENT_ENCRYPTION_ALGS]);
    expect(enumOf('ApplicationType')).toEqual([...APPLICATION_TYPES]);
    expect(enumOf('SubjectType')).toEqual([...SUBJECT_TYPES]);
    expect(enumOf('ResponseType')).toEqual([...RESPONSE_TYPES]);
    expect(enumOf('Claim')).toEqual([...CLAIMS_SUPPORTED]);
    expect(enumOf('AcrValue')).toEqual([...ACR_VALUES_SUPPORTED]);
    expect(enumOf('UiLocale')).toEqual([...UI_LOCALES_SUPPORTED]);
    expect(enumOf('AccessTokenFormat')).toEqual([...ACCESS_TOKEN_FORMATS]);
    expect(enumOf('CreatedVia')).toEqual([...CREATED_VIA]);
    expect(enumOf('ServerKeyState')).toEqual([...SERVER_KEY_STATES]);
    expect(enumOf('AuditAction')).toEqual([...AUDIT_ACTIONS]);
    expect(enumOf('AuditActorType')).toEqual([...AUDIT_ACTOR_TYPES]);
    expect(enumOf('ServerSigningAlg')).toEqual([...SERVER_SIGNING_ALGS]);
    expect(asObject(asObject(schema('ServerKeyInfo').properties, 'ServerKeyInfo.properties').alg, 'alg').$ref).toBe('#/components/schemas/ServerSigningAlg');
    const oauthError = asObject(asObject(schema('OAuthError').properties, 'OAuthError.properties').error, 'OAuthError.error');
    expect(oauthError.enum).toEqual(Object.keys(OAUTH_ERRORS));
    expect(schema('OAuthError').additionalProperties).toBe(false);
  });

  it('describes the token endpoint parameters and the server keys with the code constants', () => {
    const [tokenBase, token] = schema('TokenRequest').allOf as [JsonObject, JsonObject];
    expect(tokenBase.$ref).toBe('#/components/schemas/ClientAuthenticationParameters');
    const tokenProperties = asObject(token.properties, 'TokenRequest.properties');
    expect(asObject(tokenProperties.grant_type, 'grant_type').enum).toEqual([...TOKEN_ENDPOINT_GRANT_TYPES]);
    for (const name of ['IntrospectionRequest', 'RevocationRequest']) {
      expect((schema(name).allOf as JsonObject[]).map((part) => part.$ref)).toEqual([
        '#/components/schemas/ClientAuthenticationParameters',
        '#/components/schemas/TokenParameters',
      ]);
    }
    const auth = asObject(schema('ClientAuthenticationParameters').properties, 'ClientAuthenticationParameters.properties');
    expect(asObject(auth.client_assertion_type, 'client_assertion_type').const).toBe(JWT_BEARER_ASSERTION_TYPE);
    expect(asObject(auth.client_assertion, 'client_assertion').maxLength).toBe(MAX_ASSERTION_LENGTH);

    // One branch per algorithm the operator may choose, and no private member ever.
    const key = schema('ServerPublicKey');
    const algs = (key.oneOf as JsonObject[]).map((branch) => asObject(asObject(branch.properties, 'branch').alg, 'alg').const);
    expect(algs).toEqual([...SERVER_SIGNING_ALGS]);
    const forbidden = (asObject(key.not, 'ServerPublicKey.not').anyOf as JsonObject[]).flatMap((branch) => branch.required as string[]);
    expect(forbidden).toEqual([...PRIVATE_JWK_MEMBERS]);
  });

  it('has no enumeration typed by hand: each is a code constant, a set of error codes, or a health value', () => {
    const constants = [
      TOKEN_ENDPOINT_AUTH_METHODS, GRANT_TYPES, SIGNING_ALGS, KEY_MANAGEMENT_ALGS, CONTENT_ENCRYPTION_ALGS,
      APPLICATION_TYPES, SUBJECT_TYPES, RESPONSE_TYPES, CLAIMS_SUPPORTED, Object.keys(OAUTH_ERRORS), TOKEN_ENDPOINT_GRANT_TYPES,
      ACCESS_TOKEN_FORMATS, SETTING_FIELDS.access_token_format.schema.enum, CREATED_VIA, SERVER_KEY_STATES, SERVER_SIGNING_ALGS,
      AUDIT_ACTIONS, AUDIT_ACTOR_TYPES,
      INITIAL_ACCESS_TOKEN_STATES, REQUIRABLE_FIELDS, RESPONSE_MODES, CODE_CHALLENGE_METHODS, ACR_VALUES_SUPPORTED, UI_LOCALES_SUPPORTED,
    ].map((values) => JSON.stringify([...values]));
    const stray = enumsIn(doc).filter(({ pointer, values }) => {
      if (constants.includes(JSON.stringify(values))) return false;
      if (pointer.startsWith('/components/responses/')) return !values.every((v) => typeof v === 'string' && v in OAUTH_ERRORS);
      return !pointer.startsWith('/components/schemas/Health/');
    });
    expect(stray).toEqual([]);
  });

  it('gives each error response only codes of its own HTTP status (OAUTH_ERRORS)', () => {
    const problems: string[] = [];
    for (const [key, codes] of documentedResponses()) {
      const status = Number(key.split(' ').at(-1));
      // /authorize and the logout pages answer browsers: their errors are pages (or go to the client), never OAuth JSON
      const htmlOnly = key.includes(' /authorize ') || key.startsWith('GET /logout ') || key.startsWith('POST /logout ');
      if (status >= 400 && codes.size === 0 && !htmlOnly) problems.push(`${key}: an error status without the OAuthError shape`);
      for (const code of codes) {
        const expected = OAUTH_ERRORS[code as keyof typeof OAUTH_ERRORS]?.status;
        if (expected !== status) problems.push(`${key}: ${code} is a ${String(expected)} error`);
      }
    }
    const notFound = errorCodesOf(follow('/components/responses/NotFound').node);
    expect(notFound).toEqual(['not_found']);
    expect(OAUTH_ERRORS.not_found.status).toBe(404);
    expect(problems).toEqual([]);
  });

  it('documents the headers RFC 6750, RFC 7591 and RFC 7592 call for', () => {
    const problems: string[] = [];
    for (const op of operations) {
      for (const status of Object.keys(asObject(op.node.responses, op.pointer))) {
        const response = follow(`${op.pointer}/responses/${status}`).node;
        const headers = Object.fromEntries(
          Object.keys(isObject(response.headers) ? response.headers : {}).map((name) => [
            name.toLowerCase(),
            follow(`${follow(`${op.pointer}/responses/${status}`).pointer}/headers/${escapeToken(name)}`).node,
          ]),
        );
        const where = `${operationKey(op)} ${status}`;
        if (headers['x-request-id']?.required !== true) problems.push(`${where}: X-Request-Id`);
        if (headers['cache-control']?.required !== true) problems.push(`${where}: Cache-Control`);
        // a new signing key has no URI of its own to name
        if (status === '201' && headers.location?.required !== true && operationKey(op) !== 'POST /admin/keys/rotate') problems.push(`${where}: Location`);
        // access_denied (registration closed) answers no credential, so it carries no Bearer challenge
        // nor does the sign-out form's CSRF refusal (no credential either: a page for a browser)
        const challenged = status === '401' || (status === '403' && where !== 'POST /register 403' && where !== 'POST /logout 403');
        if (challenged && headers['www-authenticate']?.required !== true) problems.push(`${where}: WWW-Authenticate`);
      }
      const security = (op.node.security as unknown[]).map((s) => Object.keys(asObject(s, 'security')).join());
      if (security.includes('registrationAccessToken') || security.includes('initialAccessToken') || security.includes('adminAccessToken')) {
        if (!('401' in asObject(op.node.responses, op.pointer))) problems.push(`${operationKey(op)}: bearer-protected without 401`);
      }
      // The admin API: one scope each, admin:read to read and admin:write for the rest (RFC 6750 §3.1).
      if (security.includes('adminAccessToken')) {
        const needed = op.method === 'get' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write;
        if (JSON.stringify(op.node.security) !== JSON.stringify([{ adminAccessToken: [needed] }])) problems.push(`${operationKey(op)}: security should be adminAccessToken [${needed}]`);
        if (!('403' in asObject(op.node.responses, op.pointer))) problems.push(`${operationKey(op)}: scope-protected without 403`);
      }
      // Client authentication failures answer with the Basic challenge of RFC 6749 §5.2.
      if (security.includes('clientSecretBasic')) {
        if (!('401' in asObject(op.node.responses, op.pointer))) problems.push(`${operationKey(op)}: client-authenticated without 401`);
        else if (follow(`${follow(`${op.pointer}/responses/401`).pointer}/headers/WWW-Authenticate`).pointer !== '/components/headers/WWWAuthenticateBasic') {
          problems.push(`${operationKey(op)}: 401 without the Basic challenge`);
        }
      }
    }
    expect(problems).toEqual([]);
    const schemes = asObject(asObject(doc.components, 'components').securitySchemes, 'securitySchemes');
    for (const name of ['initialAccessToken', 'registrationAccessToken', 'adminAccessToken']) {
      expect(asObject(schemes[name], name)).toMatchObject({ type: 'http', scheme: 'bearer' });
    }
    expect(asObject(schemes.clientSecretBasic, 'clientSecretBasic')).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(asObject(at(pointerOf('paths', '/register', 'post')), 'post').security).toEqual([{}, { initialAccessToken: [] }]);
    // Basic, or credentials in the form body, which no security scheme can express.
    for (const path of ['/token', '/introspect', '/revoke']) {
      const op = asObject(at(pointerOf('paths', path, 'post')), path);
      expect(op.security, path).toEqual([{ clientSecretBasic: [] }, {}]);
      expect(Object.keys(asObject(asObject(op.requestBody, path).content, path)), path).toEqual([FORM]);
    }
  });

  it('describes the server-issued fields of RFC 7591 §3.2.1 and RFC 7592 §2.2, §3 as SERVER_ISSUED_FIELDS', () => {
    const [base, issued] = schema('ClientInformation').allOf as [JsonObject, JsonObject];
    expect(base.$ref).toBe('#/components/schemas/ClientMetadata');
    const issuedNames = Object.keys(asObject(issued.properties, 'ClientInformation.properties')).filter((n) => !(n in CLIENT_METADATA_FIELDS));
    expect(issuedNames.sort()).toEqual([...SERVER_ISSUED_FIELDS].sort());
    // Fields with a default are always in the response; response_types only for clients of the
    // authorization endpoint, so it is the one defaulted field that is not required.
    const withDefault = Object.entries(CLIENT_METADATA_FIELDS as Record<string, FieldSpec>)
      .filter(([n, s]) => s.default !== undefined && n !== 'response_types')
      .map(([n]) => n);
    expect(issued.required).toEqual(expect.arrayContaining([...withDefault, 'grant_types', 'client_id', 'client_id_issued_at', 'registration_client_uri']));

    const [updateBase, update] = schema('ClientUpdateRequest').allOf as [JsonObject, JsonObject];
    expect(updateBase.$ref).toBe('#/components/schemas/ClientMetadata');
    expect(Object.keys(asObject(update.properties, 'ClientUpdateRequest.properties')).sort()).toEqual(['client_id', 'client_secret']);
    const forbidden = (asObject(update.not, 'not').anyOf as JsonObject[]).flatMap((branch) => branch.required as string[]);
    expect(forbidden.sort()).toEqual(SERVER_ISSUED_FIELDS.filter((f) => f !== 'client_id' && f !== 'client_secret').sort());
  });

  it('describes exactly the members buildProviderMetadata produces, with its enumerations', () => {
    const config = { issuer: 'https://id.example', scopesSupported: ['openid', 'email'], serviceDocumentation: undefined, signingKeys: { algs: SERVER_SIGNING_ALGS } };
    // minimal: no service documentation, and registration closed (no registration_endpoint)
    const { registration_endpoint: _closed, ...withoutRegistration } = endpointUrls(config.issuer);
    const minimal = buildProviderMetadata(config, withoutRegistration);
    const full = buildProviderMetadata({ ...config, serviceDocumentation: 'https://docs.example/registrar' }, endpointUrls(config.issuer));
    const provider = schema('ProviderMetadata');
    expect(Object.keys(asObject(provider.properties, 'ProviderMetadata.properties')).sort()).toEqual(Object.keys(full).sort());
    expect([...(provider.required as string[])].sort()).toEqual(Object.keys(minimal).sort());
    expect(schemaProblems(pointerOf('components', 'schemas', 'ProviderMetadata'), JSON.parse(JSON.stringify(full)))).toEqual([]);
    // A list whose items are enumerated announces the whole enumeration.
    for (const [name, property] of Object.entries(asObject(provider.properties, 'properties'))) {
      const items = isObject(asObject(property, name).items) ? derefSchema(asObject(property, name).items, name) : undefined;
      if (items?.enum !== undefined) expect(full[name], name).toEqual(items.enum);
    }
    // Introspection and revocation take every authenticating method, never `none`.
    const authenticating = TOKEN_ENDPOINT_AUTH_METHODS.filter((method) => method !== 'none');
    for (const name of ['introspection_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported']) {
      expect(full[name], name).toEqual(authenticating);
      const withNone = JSON.parse(JSON.stringify({ ...full, [name]: [...TOKEN_ENDPOINT_AUTH_METHODS] })) as unknown;
      expect(schemaProblems(pointerOf('components', 'schemas', 'ProviderMetadata'), withNone), name).not.toEqual([]);
    }
    expect(Object.fromEntries(Object.keys(endpointUrls(config.issuer)).map((name) => [name, full[name]]))).toEqual(endpointUrls(config.issuer));
  });

  it('describes the policy rules exactly as POLICY_RULES, the one list the admin API parses, and the token limits as the code sets them', () => {
    const rules = asObject(schema('PolicyRules').properties, 'PolicyRules.properties');
    expect(Object.keys(rules)).toEqual(POLICY_RULE_NAMES);
    expect(schema('PolicyRules').additionalProperties).toBe(false);
    const problems = POLICY_RULE_NAMES.flatMap((name) =>
      fieldSchemaProblems(name, derefSchema(rules[name], `PolicyRules.properties.${name}`), POLICY_RULES[name].schema, false),
    );
    expect(problems).toEqual([]);
    expect(enumOf('InitialAccessTokenState')).toEqual([...INITIAL_ACCESS_TOKEN_STATES]);
    expect(enumOf('RequirableField')).toEqual([...REQUIRABLE_FIELDS]);
    const request = asObject(schema('NewInitialAccessToken').properties, 'NewInitialAccessToken.properties');
    expect(asObject(request.max_uses, 'max_uses').maximum).toBe(MAX_TOKEN_USES);
    expect(asObject(request.expires_in, 'expires_in').maximum).toBe(MAX_TOKEN_LIFETIME);
    expect(asObject(request.description, 'description').maxLength).toBe(MAX_DESCRIPTION_LENGTH);
    const list = asObject(schema('InitialAccessTokenList').properties, 'list');
    expect(asObject(list.initial_access_tokens, 'initial_access_tokens').maxItems).toBe(MAX_LISTED_TOKENS);
  });

  it('describes the operator settings exactly as SETTING_FIELDS, the one list the admin API parses', () => {
    const settings = asObject(schema('AdminClientSettings').properties, 'AdminClientSettings.properties');
    expect(Object.keys(settings)).toEqual(SETTING_FIELD_NAMES);
    const problems = SETTING_FIELD_NAMES.flatMap((name) =>
      fieldSchemaProblems(name, derefSchema(settings[name], `AdminClientSettings.properties.${name}`), SETTING_FIELDS[name].schema, false),
    );
    expect(problems).toEqual([]);
    // Requests and the representation both carry them; the representation with defaults filled in.
    for (const name of ['AdminClientRequest', 'AdminClientFields']) {
      expect((schema(name).allOf as JsonObject[]).slice(0, 2).map((part) => part.$ref), name).toEqual([
        '#/components/schemas/ClientMetadata',
        '#/components/schemas/AdminClientSettings',
      ]);
    }
  });

  it('describes the admin representation as adminClient() builds it, and the admin limits as the code sets them', () => {
    const fields = asObject((schema('AdminClientFields').allOf as JsonObject[])[2], 'AdminClientFields.allOf[2]');
    const stored = {
      clientId: 'AAAAAAAAAAAAAAAAAAAAAAAA',
      metadata: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', client_name: 'Billing' },
      secretCiphertext: 'sealed',
      secretExpiresAt: 0,
      previousSecret: null,
      registrationTokenHash: new Uint8Array(32),
      clientIdIssuedAt: 1_767_225_600,
      settings: DEFAULT_SETTINGS,
      createdVia: 'admin_api' as const,
      updatedAt: 1_767_225_600,
      lastUsedAt: null,
      version: 1,
      initialAccessTokenId: 'a1b2c3d4e5f6a7b8c9d0',
      registrationPolicy: 'partner-a',
    };
    const shown = adminClient({ issuer: 'https://id.example', tokenDefaults: { format: 'jwt', lifetimeSeconds: 300 } }, stored);
    expect(schemaProblems(pointerOf('components', 'schemas', 'AdminClient'), shown)).toEqual([]);
    // The members of the server's own beside metadata and settings: the representation's, and
    // the two credentials that only the answers issuing them carry.
    const own = (names: string[]) => names.filter((name) => !(name in CLIENT_METADATA_FIELDS) && !(SETTING_FIELD_NAMES as string[]).includes(name)).sort();
    expect(own(Object.keys(asObject(fields.properties, 'properties')))).toEqual(own([...Object.keys(shown), 'client_secret', 'registration_access_token']));
    expect(own(fields.required as string[])).toEqual(own(Object.keys(shown)).filter((name) => name !== 'client_secret_expires_at'));

    const page = asObject(schema('ClientPage').properties, 'ClientPage.properties');
    expect(asObject(page.clients, 'clients').maxItems).toBe(MAX_PAGE_SIZE);
    const limit = (asObject(at(pointerOf('paths', '/admin/clients', 'get')), 'list').parameters as JsonObject[]).find((p) => p.name === 'limit');
    expect(asObject(limit?.schema, 'limit.schema')).toMatchObject({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE });
    const rotation = asObject(schema('RotateSecretRequest').properties, 'RotateSecretRequest.properties');
    expect(asObject(rotation.grace_period, 'grace_period').maximum).toBe(MAX_GRACE_PERIOD_SECONDS);
  });

  it('describes the user claims exactly as USER_CLAIMS, the one table the admin API validates with, and the username and password rules as the code sets them', () => {
    const documented = asObject(schema('UserClaims').properties, 'UserClaims.properties');
    expect(Object.keys(documented)).toEqual(Object.keys(USER_CLAIMS));
    for (const [name, claim] of Object.entries(USER_CLAIMS)) {
      const { description, ...rest } = asObject(documented[name], name);
      expect(typeof description, name).toBe('string');
      expect(rest, name).toEqual(claim);
    }
    expect(schema('Username').pattern).toBe(USERNAME.source);
    expect([schema('Password').minLength, schema('Password').maxLength]).toEqual([MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH]);
    const patchable = Object.keys(asObject(schema('UserPatch').properties, 'UserPatch.properties'));
    expect(patchable.sort()).toEqual(['username', ...Object.keys(USER_CLAIMS)].sort());
  });

  it('names the scope the admin API asks for in the insufficient_scope challenge', () => {
    const challenge = new RegExp(String(asObject(at('/components/headers/WWWAuthenticateInsufficientScope/schema'), 'schema').pattern));
    for (const scope of ADMIN_SCOPE_VALUES) expect(insufficientScope(scope).headers['www-authenticate']).toMatch(challenge);
    expect(insufficientScope('openid').headers['www-authenticate']).not.toMatch(challenge);
  });

  it('has examples that match their schemas', () => {
    const problems: string[] = [];
    const visit = (node: unknown, pointer: string): void => {
      if (!isObject(node)) return;
      for (const [key, value] of Object.entries(node)) {
        const here = `${pointer}/${escapeToken(key)}`;
        if (isObject(value) && isObject(value.schema) && (value.example !== undefined || isObject(value.examples))) {
          const samples = value.example !== undefined ? [value.example] : Object.values(value.examples as JsonObject).map((e) => asObject(e, here).value);
          for (const sample of samples) problems.push(...schemaProblems(`${here}/schema`, sample).map((p) => `${here}: ${p}`));
        }
        visit(value, here);
      }
    };
    visit(doc.paths, '/paths');
    visit(asObject(doc.components, 'components').responses, '/components/responses');
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Real requests against the document

const NON_LOOPBACK_HTTP = 'http://rp.example/callback';

describe(`openapi.yaml against a running server (${storageKind})`, () => {
  let server: TestServer;
  /** The sector_identifier_uri document of a pairwise client with redirect URIs on two hosts. */
  const sectorDocument = new KeyServer();
  beforeAll(async () => {
    await sectorDocument.start();
    sectorDocument.body = ['https://rp.example/cb', 'https://app.example/cb'];
    server = await startTestServer({ OUTBOUND_ALLOWED_HOSTS: sectorDocument.host });
  });
  afterAll(async () => {
    await server?.close();
    await sectorDocument.stop();
  });

  /** Registers a client after checking the request against the documented request schema. */
  async function register(metadata: JsonObject): Promise<Exchange & { body: JsonObject }> {
    expect(schemaProblems(requestSchemaPointer('post', '/register'), metadata)).toEqual([]);
    const res = await call(server, 'POST', '/register', { json: metadata });
    expect(res.status, res.text).toBe(201);
    return res as Exchange & { body: JsonObject };
  }

  const registeredKeys = new Set<string>();

  it('the checker itself refuses what the document does not describe', () => {
    const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': 'r1' });
    const healthz = (status: number, body: unknown): Exchange => ({ method: 'GET', path: '/healthz', status, headers, body, text: JSON.stringify(body) });
    expect(responseProblems(healthz(200, { status: 'ok' }))).toEqual([]);
    expect(responseProblems(healthz(500, { error: 'server_error', error_description: 'x' }))).not.toEqual([]);
    expect(responseProblems(healthz(200, { status: 'ok', extra: true }))).not.toEqual([]);
    expect(responseProblems({ ...healthz(200, { status: 'ok' }), headers: new Headers({ 'content-type': 'application/json' }) })).not.toEqual([]);
    const error = (body: unknown): Exchange => ({ method: 'DELETE', path: '/register/abc', status: 401, headers: new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store', 'x-request-id': 'r', 'www-authenticate': 'Bearer error="invalid_token"' }), body, text: JSON.stringify(body) });
    expect(responseProblems(error({ error: 'invalid_token', error_description: 'd' }))).toEqual([]);
    expect(responseProblems(error({ error: 'invalid_token', error_description: 'd', stack: 'x' }))).not.toEqual([]);
    expect(responseProblems(error({ error: 'invalid_request', error_description: 'd' }))).not.toEqual([]);
    expect(responseProblems({ ...healthz(200, { status: 'ok' }), method: 'POST' })).not.toEqual([]);
  });

  it('serves both discovery documents as documented', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await call(server, 'GET', path);
      expect(res.status).toBe(200);
      expect((res.body as JsonObject).issuer).toBe(server.config.issuer);
      expect((res.body as JsonObject).registration_endpoint).toBe(`${server.config.issuer}/register`);
    }
  });

  it('answers the health probes as documented', async () => {
    expect((await call(server, 'GET', '/healthz')).status).toBe(200);
    const ready = await call(server, 'GET', '/readyz', { headers: { 'x-request-id': 'contract-test.1' } });
    expect(ready.status).toBe(200);
    expect((ready.body as JsonObject).database).toBe(storageKind === 'postgres' ? 'postgres' : 'embedded');
    expect(ready.headers.get('x-request-id')).toBe('contract-test.1');
  });

  it('registers clients of every shape, each response as documented (RFC 7591 §3.2.1)', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'sig-1', use: 'sig', alg: 'ES256' };
    const shapes: JsonObject[] = [
      {
        redirect_uris: ['https://rp.example/callback', 'https://rp.example/callback'],
        client_name: 'Example RP',
        'client_name#fr': 'RP d’exemple',
        'logo_uri#de': 'https://rp.example/logo-de.png',
        contacts: ['ops@rp.example'],
        scope: 'openid email',
        unknown_member: 'ignored (RFC 7591 §2)',
      },
      { application_type: 'native', redirect_uris: ['com.example.app:/oauth2redirect', 'http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' },
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post', software_id: 'batch', software_version: '1.2' },
      {
        redirect_uris: ['https://rp.example/cb'],
        post_logout_redirect_uris: ['https://rp.example/bye'],
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
        client_uri: 'https://rp.example/',
        'client_uri#en-GB': 'https://rp.example/en-gb',
        policy_uri: 'https://rp.example/privacy',
        'policy_uri#fr': 'https://rp.example/fr/privacy',
        tos_uri: 'https://rp.example/tos',
        'tos_uri#fr': 'https://rp.example/fr/tos',
        logo_uri: 'https://rp.example/logo.png',
        jwks: { keys: [jwk] },
        subject_type: 'public',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        id_token_signed_response_alg: 'ES256',
        id_token_encrypted_response_alg: 'A128KW',
        userinfo_signed_response_alg: 'ES256',
        userinfo_encrypted_response_alg: 'dir',
        userinfo_encrypted_response_enc: 'A256GCM',
        default_max_age: 3600,
        require_auth_time: true,
        default_acr_values: [...ACR_VALUES_SUPPORTED],
        initiate_login_uri: 'https://rp.example/login',
      },
      { redirect_uris: ['https://rp.example/cb'], jwks_uri: 'https://rp.example/jwks.json', token_endpoint_auth_method: 'private_key_jwt' },
      { redirect_uris: ['https://rp.example/cb', 'https://app.example/cb'], subject_type: 'pairwise', sector_identifier_uri: sectorDocument.url('/sector.json') },
    ];
    for (const metadata of shapes) {
      const res = await register(metadata);
      const body = res.body;
      expect(res.headers.get('location')).toBe(body.registration_client_uri);
      for (const key of Object.keys(body)) registeredKeys.add(key.split('#')[0] ?? key);
    }
    // Every field the server accepts has been through a documented response.
    const accepted = Object.entries(CLIENT_METADATA_FIELDS as Record<string, FieldSpec>).filter(([, s]) => s.unsupported === undefined).map(([n]) => n);
    expect(accepted.filter((name) => !registeredKeys.has(name))).toEqual([]);
    expect(SERVER_ISSUED_FIELDS.filter((name) => !registeredKeys.has(name))).toEqual([]);
  });

  it('refuses bad registrations with documented errors (RFC 7591 §3.2.2)', async () => {
    const cases: [RequestOptions, number, string][] = [
      [{ json: { redirect_uris: [NON_LOOPBACK_HTTP] } }, 400, 'invalid_redirect_uri'],
      [{ json: { grant_types: ['authorization_code'] } }, 400, 'invalid_redirect_uri'],
      [{ json: { redirect_uris: ['https://rp.example/cb'], grant_types: ['password'] } }, 400, 'invalid_client_metadata'],
      [{ json: { redirect_uris: ['https://rp.example/cb'], 'client_name#!!': 'x' } }, 400, 'invalid_client_metadata'],
      [{ json: ['not', 'an', 'object'] }, 400, 'invalid_client_metadata'],
      [{ json: { redirect_uris: ['https://rp.example/cb'], sector_identifier_uri: 'http://rp.example/sector.json' } }, 400, 'invalid_client_metadata'],
      [{ json: { redirect_uris: ['https://other.example/cb'], sector_identifier_uri: sectorDocument.url('/sector.json') } }, 400, 'invalid_client_metadata'],
      [{ json: { redirect_uris: ['https://rp.example/cb'], request_uris: ['https://rp.example/request.jwt'] } }, 400, 'invalid_client_metadata'],
      [{ json: { redirect_uris: ['https://rp.example/cb'], software_statement: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln' } }, 400, 'unapproved_software_statement'],
      [{ body: '{"redirect_uris": [', headers: { 'content-type': 'application/json' } }, 400, 'invalid_request'],
      [{ body: '', headers: { 'content-type': 'application/json' } }, 400, 'invalid_request'],
      [{ body: JSON.stringify({ client_name: 'x'.repeat(70 * 1024) }), headers: { 'content-type': 'application/json' } }, 413, 'request_too_large'],
      [{ body: 'redirect_uris=https://rp.example/cb', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
      [{ body: 'redirect_uris=https://rp.example/cb', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
    ];
    for (const [options, status, error] of cases) {
      const res = await call(server, 'POST', '/register', options);
      expect([res.status, (res.body as JsonObject).error], JSON.stringify(options).slice(0, 120)).toEqual([status, error]);
    }
  });

  it('reads, updates and deletes a client through the client configuration endpoint (RFC 7592 §2)', async () => {
    const created = (await register({ redirect_uris: ['https://rp.example/cb'], client_name: 'Before' })).body;
    const id = created.client_id as string;
    const token = created.registration_access_token as string;
    const path = `/register/${id}`;

    const read = await call(server, 'GET', path, { token });
    expect(read.status).toBe(200);
    expect((read.body as JsonObject).client_secret).toBe(created.client_secret);

    const replacement = { client_id: id, client_secret: created.client_secret, redirect_uris: ['https://rp.example/cb2'], 'client_name#fr': 'Après' };
    expect(schemaProblems(requestSchemaPointer('put', '/register/{client_id}'), replacement)).toEqual([]);
    const updated = await call(server, 'PUT', path, { token, json: replacement });
    expect(updated.status).toBe(200);
    expect((updated.body as JsonObject).redirect_uris).toEqual(['https://rp.example/cb2']);
    expect((updated.body as JsonObject).client_name).toBeUndefined();

    const forbidden = { client_id: id, redirect_uris: ['https://rp.example/cb2'], registration_access_token: token };
    expect(schemaProblems(requestSchemaPointer('put', '/register/{client_id}'), forbidden)).not.toEqual([]);
    const json = { 'content-type': 'application/json' };
    const badUpdates: [RequestOptions, number, string][] = [
      [{ token, json: forbidden }, 400, 'invalid_request'],
      [{ token, json: { redirect_uris: ['https://rp.example/cb2'] } }, 400, 'invalid_request'],
      [{ token, json: { client_id: id, client_secret: 'not-the-secret', redirect_uris: ['https://rp.example/cb2'] } }, 400, 'invalid_request'],
      [{ token, json: { client_id: id, redirect_uris: [NON_LOOPBACK_HTTP] } }, 400, 'invalid_redirect_uri'],
      [{ token, json: { client_id: id, redirect_uris: ['https://rp.example/cb'], application_type: 'desktop' } }, 400, 'invalid_client_metadata'],
      [{ token, json: { client_id: id, redirect_uris: ['https://rp.example/cb'], software_statement: 'a.b.c' } }, 400, 'unapproved_software_statement'],
      [{ token, body: '{', headers: json }, 400, 'invalid_request'],
      [{ token: 'wrong-token', json: replacement }, 401, 'invalid_token'],
      [{ json: replacement }, 401, 'invalid_token'],
      [{ token, body: JSON.stringify({ client_id: id, client_name: 'x'.repeat(70 * 1024) }), headers: json }, 413, 'request_too_large'],
      [{ token, body: 'client_id', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
    ];
    for (const [options, status, error] of badUpdates) {
      const res = await call(server, 'PUT', path, options);
      expect([res.status, (res.body as JsonObject).error], JSON.stringify(options).slice(0, 120)).toEqual([status, error]);
    }

    for (const [method, token2] of [['GET', 'wrong-token'], ['GET', undefined], ['DELETE', 'wrong-token']] as const) {
      const res = await call(server, method, path, token2 === undefined ? {} : { token: token2 });
      expect([res.status, (res.body as JsonObject).error]).toEqual([401, 'invalid_token']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    }
    // An unknown client gets the very answer a wrong token gets (RFC 7592 §2.1).
    const unknown = await call(server, 'GET', '/register/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { token });
    expect([unknown.status, (unknown.body as JsonObject).error]).toEqual([401, 'invalid_token']);

    const badDeletes: [RequestOptions, number, string][] = [
      [{ token, body: '{', headers: json }, 400, 'invalid_request'],
      [{ token, body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), headers: json }, 413, 'request_too_large'],
      [{ token, body: 'please', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
    ];
    for (const [options, status, error] of badDeletes) {
      const res = await call(server, 'DELETE', path, options);
      expect([res.status, (res.body as JsonObject).error]).toEqual([status, error]);
    }

    const deleted = await call(server, 'DELETE', path, { token });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = await call(server, 'GET', path, { token });
    expect(gone.status).toBe(401);
  });

  // ---- token, introspection, revocation and JWKS endpoints ----

  interface Machine {
    id: string;
    secret: string;
  }

  /** Registers a client of the client_credentials grant; client_secret_basic unless told otherwise. */
  async function registerMachine(metadata: JsonObject = {}): Promise<Machine> {
    const body = (await register({ grant_types: ['client_credentials'], scope: 'openid', token_endpoint_auth_method: 'client_secret_basic', ...metadata })).body;
    return { id: body.client_id as string, secret: body.client_secret as string };
  }

  /** RFC 6749 §2.3.1: both parts form-urlencoded, then joined and base64-encoded. */
  const basic = (id: string, secret: string): string =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  /** A form request; `params` checked against the operation's documented form schema first. */
  function form(params: Record<string, string>, headers: Record<string, string> = {}): RequestOptions {
    return { body: new URLSearchParams(params).toString(), headers: { 'content-type': FORM, ...headers } };
  }

  /** Sends a form the document describes as valid for the operation. */
  async function callForm(path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Exchange> {
    expect(schemaProblems(requestSchemaPointer('post', path, FORM), params), `${path} ${JSON.stringify(params)}`).toEqual([]);
    return call(server, 'POST', path, form(params, headers));
  }

  /** A client_secret_jwt assertion (RFC 7523 §3): HS256 keyed by the secret, aud the issuer, unique jti. */
  function secretJwt(client: Machine, claims: { aud?: string; exp?: number } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(client.id)
      .setSubject(client.id)
      .setAudience(claims.aud ?? server.config.issuer)
      .setIssuedAt(now)
      .setExpirationTime(claims.exp ?? now + 60)
      .setJti(randomUUID())
      .sign(new TextEncoder().encode(client.secret));
  }

  const assertionParams = (assertion: string): Record<string, string> => ({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: assertion });

  async function accessToken(client: Machine, scope?: string): Promise<string> {
    const res = await callForm('/token', { grant_type: 'client_credentials', ...(scope !== undefined ? { scope } : {}) }, { authorization: basic(client.id, client.secret) });
    expect(res.status, res.text).toBe(200);
    return (res.body as JsonObject).access_token as string;
  }

  it('issues access tokens to clients of every authentication method (RFC 6749 §4.4, RFC 7523 §2.2)', async () => {
    const machine = await registerMachine();
    const jwks = await call(server, 'GET', '/jwks');
    expect(jwks.status).toBe(200);
    const keySet = createLocalJWKSet(jwks.body as JSONWebKeySet);

    // client_secret_basic, with and without scope
    for (const params of [{ grant_type: 'client_credentials', scope: 'openid' }, { grant_type: 'client_credentials' }]) {
      const res = await callForm('/token', params, { authorization: basic(machine.id, machine.secret) });
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      const body = res.body as JsonObject;
      expect([body.token_type, body.scope, body.expires_in]).toEqual(['Bearer', 'openid', server.config.tokens.lifetimeSeconds]);
      // An RFC 9068 JWT, verifiable with the published keys.
      const { payload, protectedHeader } = await jwtVerify(body.access_token as string, keySet, { issuer: server.config.issuer, typ: 'at+jwt' });
      expect([payload.client_id, payload.sub, payload.scope, protectedHeader.typ]).toEqual([machine.id, machine.id, 'openid', 'at+jwt']);
    }

    // client_secret_post, for a client that registered no scope: the token has none
    const postBody = (await register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' })).body;
    const post = { id: postBody.client_id as string, secret: postBody.client_secret as string };
    const posted = await callForm('/token', { grant_type: 'client_credentials', client_id: post.id, client_secret: post.secret });
    expect(posted.status, posted.text).toBe(200);
    expect((posted.body as JsonObject).scope).toBeUndefined();

    // client_secret_jwt, with and without the client_id parameter
    const jwt = await registerMachine({ token_endpoint_auth_method: 'client_secret_jwt' });
    for (const extra of [{}, { client_id: jwt.id }]) {
      const res = await callForm('/token', { grant_type: 'client_credentials', scope: 'openid', ...extra, ...assertionParams(await secretJwt(jwt)) });
      expect(res.status, res.text).toBe(200);
      expect((res.body as JsonObject).scope).toBe('openid');
    }
  });

  it('refuses bad token requests with documented errors (RFC 6749 §5.2)', async () => {
    const machine = await registerMachine();
    const auth = { authorization: basic(machine.id, machine.secret) };
    const webClient = (await register({ redirect_uris: ['https://rp.example/cb'], scope: 'openid' })).body;
    const jwtClient = await registerMachine({ token_endpoint_auth_method: 'client_secret_jwt' });
    const grant = { grant_type: 'client_credentials' };
    const replayed = await secretJwt(jwtClient);
    expect((await callForm('/token', { ...grant, ...assertionParams(replayed) })).status).toBe(200);

    const cases: [RequestOptions, number, string][] = [
      [form({ scope: 'openid' }, auth), 400, 'invalid_request'],
      [{ body: 'grant_type=client_credentials&grant_type=client_credentials', headers: { 'content-type': FORM, ...auth } }, 400, 'invalid_request'],
      [form({ ...grant, client_id: machine.id, client_secret: machine.secret }, auth), 400, 'invalid_request'],
      [form({ ...grant, client_id: jwtClient.id }, auth), 400, 'invalid_request'],
      [form({ grant_type: 'authorization_code', code: 'abc' }, auth), 400, 'unauthorized_client'],
      [form({ grant_type: 'refresh_token', refresh_token: 'abc' }, auth), 400, 'unauthorized_client'],
      [form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'abc' }, auth), 400, 'unsupported_grant_type'],
      // no RESOURCE_INDICATORS here: every resource is refused (RFC 8707 §2)
      [form({ ...grant, resource: 'https://mcp.example.com' }, auth), 400, 'invalid_target'],
      [form({ grant_type: 'password', username: 'u', password: 'p' }, auth), 400, 'unsupported_grant_type'],
      [form(grant, { authorization: basic(webClient.client_id as string, webClient.client_secret as string) }), 400, 'unauthorized_client'],
      [form({ ...grant, scope: 'email' }, auth), 400, 'invalid_scope'],
      [form({ ...grant, scope: ' ' }, auth), 400, 'invalid_scope'],
      [form(grant), 401, 'invalid_client'],
      [{}, 401, 'invalid_client'],
      [form(grant, { authorization: basic(machine.id, 'not-the-secret') }), 401, 'invalid_client'],
      [form(grant, { authorization: basic('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', machine.secret) }), 401, 'invalid_client'],
      [form(grant, { authorization: `Bearer ${machine.secret}` }), 401, 'invalid_client'],
      [form({ ...grant, client_id: machine.id, client_secret: machine.secret }), 401, 'invalid_client'],
      [form({ ...grant, ...assertionParams(replayed) }), 401, 'invalid_client'],
      [form({ ...grant, ...assertionParams(await secretJwt(jwtClient, { aud: `${server.config.issuer}/token` })) }), 401, 'invalid_client'],
      [form({ ...grant, ...assertionParams(await secretJwt(jwtClient, { exp: Math.floor(Date.now() / 1000) + 3600 })) }), 401, 'invalid_client'],
      [form({ ...grant, ...assertionParams(await secretJwt(machine)) }), 401, 'invalid_client'],
      [form({ ...grant, client_assertion_type: 'urn:example:other', client_assertion: await secretJwt(jwtClient) }), 401, 'invalid_client'],
      [form({ ...grant, pad: 'x'.repeat(70 * 1024) }, auth), 413, 'request_too_large'],
      [{ json: grant, headers: auth }, 415, 'unsupported_media_type'],
      [{ body: 'grant_type=client_credentials', headers: { 'content-type': 'text/plain', ...auth } }, 415, 'unsupported_media_type'],
    ];
    for (const [options, status, error] of cases) {
      const res = await call(server, 'POST', '/token', options);
      expect([res.status, (res.body as JsonObject).error], JSON.stringify(options).slice(0, 160)).toEqual([status, error]);
      if (status === 401) expect(res.headers.get('www-authenticate')).toBe(`Basic realm="${server.config.issuer}"`);
    }
  });

  /** An exchange with /authorize, redirects not followed, checked against the document. */
  async function callAuthorize(method: 'GET' | 'POST', params: Record<string, string>): Promise<Exchange> {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`${server.url}/authorize${method === 'GET' ? `?${query}` : ''}`, {
      method,
      redirect: 'manual',
      ...(method === 'POST' ? { body: query, headers: { 'content-type': FORM } } : {}),
    });
    const exchange: Exchange = { method, path: '/authorize', status: response.status, headers: response.headers, text: await response.text(), body: undefined };
    conforms(exchange);
    return exchange;
  }

  it('answers authorization requests with pages and redirects as documented (RFC 6749 §4.1.2, RFC 9207)', async () => {
    const rp = (await register({ redirect_uris: ['https://rp.example/cb'] })).body;
    const good = { response_type: 'code', client_id: rp.client_id as string, redirect_uri: 'https://rp.example/cb', scope: 'openid', state: 's' };
    for (const method of ['GET', 'POST'] as const) {
      const page = await callAuthorize(method, { ...good, redirect_uri: 'https://evil.example/cb' });
      expect([page.status, page.headers.get('location'), page.headers.get('content-type')]).toEqual([400, null, 'text/html; charset=utf-8']);
      const login = await callAuthorize(method, good);
      expect(login.status).toBe(303);
      expect(new URL(login.headers.get('location')!, server.url).pathname).toBe('/login');
    }
    // RFC 8707 §2: a resource this server does not serve goes back as invalid_target
    const target = await callAuthorize('GET', { ...good, resource: 'https://mcp.example.com' });
    expect(Object.fromEntries(new URL(target.headers.get('location')!).searchParams)).toMatchObject({ error: 'invalid_target', state: 's', iss: server.config.issuer });
    const error = await callAuthorize('GET', { ...good, prompt: 'none' });
    expect(error.status).toBe(302);
    expect(Object.fromEntries(new URL(error.headers.get('location')!).searchParams)).toEqual({ error: 'login_required', error_description: 'the user must sign in', state: 's', iss: server.config.issuer });
    for (const method of ['GET', 'POST'] as const) {
      const formPost = await callAuthorize(method, { ...good, prompt: 'none', response_mode: 'form_post' });
      expect(formPost.status).toBe(200);
      expect(formPost.text).toContain('name="error" value="login_required"');
    }
  });

  it('exchanges authorization codes as documented, and refuses a used one with invalid_grant (RFC 6749 §4.1.3, §5.2)', async () => {
    const rp = (await register({ redirect_uris: ['https://rp.example/cb'] })).body;
    const userId = await createUser(server, `contract-${randomUUID().slice(0, 8)}`, 'a long enough password');
    const code = randomBytes(32).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    await new AuthorizationRepository(server.db).insertCode({
      codeHash: createHash('sha256').update(code).digest(), clientId: rp.client_id as string, userId, redirectUri: 'https://rp.example/cb', redirectUriGiven: true,
      codeChallenge: null, scope: 'openid', nonce: 'n', sid: 'sid', authTime: now, amr: ['pwd'], authTimeRequired: false, createdAt: now, expiresAt: now + 60,
    });
    const exchange = form({ grant_type: 'authorization_code', code, redirect_uri: 'https://rp.example/cb' }, { authorization: basic(rp.client_id as string, rp.client_secret as string) });
    expect(schemaProblems(requestSchemaPointer('post', '/token', FORM), { grant_type: 'authorization_code', code, redirect_uri: 'https://rp.example/cb' })).toEqual([]);
    const tokens = await call(server, 'POST', '/token', exchange);
    expect(tokens.status).toBe(200);
    expect((tokens.body as JsonObject).id_token).toEqual(expect.any(String));
    const again = await call(server, 'POST', '/token', exchange);
    expect([again.status, (again.body as JsonObject).error]).toEqual([400, 'invalid_grant']);

    // the UserInfo endpoint, with the first (now revoked) token, and fresh ones with and without openid
    const accessToken = (tokens.body as JsonObject).access_token as string;
    expect((await call(server, 'GET', '/userinfo', { token: accessToken })).status).toBe(401);
    const freshToken = async (scope: string) => {
      const fresh = randomBytes(32).toString('base64url');
      await new AuthorizationRepository(server.db).insertCode({
        codeHash: createHash('sha256').update(fresh).digest(), clientId: rp.client_id as string, userId, redirectUri: 'https://rp.example/cb', redirectUriGiven: true,
        codeChallenge: null, scope, nonce: null, sid: 'sid', authTime: now, amr: ['pwd'], authTimeRequired: false, createdAt: now, expiresAt: now + 60,
      });
      const res = await call(server, 'POST', '/token', form({ grant_type: 'authorization_code', code: fresh, redirect_uri: 'https://rp.example/cb' }, { authorization: basic(rp.client_id as string, rp.client_secret as string) }));
      return (res.body as JsonObject).access_token as string;
    };
    const token = await freshToken('openid');
    const profileOnly = await freshToken('profile');
    for (const method of ['GET', 'POST']) {
      const info = await call(server, method, '/userinfo', { token });
      expect([info.status, (info.body as JsonObject).sub]).toEqual([200, userId]);
      expect((await call(server, method, '/userinfo')).status).toBe(401);
      const refused = await call(server, method, '/userinfo', { token: profileOnly });
      expect([refused.status, (refused.body as JsonObject).error]).toEqual([403, 'insufficient_scope']);
    }
    const inBody = await call(server, 'POST', '/userinfo', form({ access_token: token }));
    expect([inBody.status, (inBody.body as JsonObject).error]).toEqual([400, 'invalid_request']);

    // as the client registered (OIDC Core §5.3.2): a signed JWT; and a client whose encryption key
    // cannot be had (its jwks_uri names a host that never resolves, RFC 6761 §6.4)
    const signedRp = (await register({ redirect_uris: ['https://rp.example/cb'], userinfo_signed_response_alg: 'ES256' })).body;
    const unreachableRp = (await register({ redirect_uris: ['https://rp.example/cb'], userinfo_encrypted_response_alg: 'ECDH-ES', jwks_uri: 'https://keys.invalid/jwks' })).body;
    const tokenOf = async (client: JsonObject) => {
      const fresh = randomBytes(32).toString('base64url');
      await new AuthorizationRepository(server.db).insertCode({
        codeHash: createHash('sha256').update(fresh).digest(), clientId: client.client_id as string, userId, redirectUri: 'https://rp.example/cb', redirectUriGiven: true,
        codeChallenge: null, scope: 'openid', nonce: null, sid: 'sid', authTime: now, amr: ['pwd'], authTimeRequired: false, createdAt: now, expiresAt: now + 60,
      });
      const res = await call(server, 'POST', '/token', form({ grant_type: 'authorization_code', code: fresh, redirect_uri: 'https://rp.example/cb' }, { authorization: basic(client.client_id as string, client.client_secret as string) }));
      return (res.body as JsonObject).access_token as string;
    };
    const signedToken = await tokenOf(signedRp);
    const unreachableToken = await tokenOf(unreachableRp);
    for (const method of ['GET', 'POST']) {
      const jwt = await call(server, method, '/userinfo', { token: signedToken });
      expect([jwt.status, jwt.headers.get('content-type'), jwt.text.split('.').length]).toEqual([200, 'application/jwt', 3]);
      const refused = await call(server, method, '/userinfo', { token: unreachableToken });
      expect([refused.status, (refused.body as JsonObject).error]).toEqual([400, 'invalid_request']);
    }
  });

  it('issues, rotates, introspects and revokes refresh tokens as documented (RFC 6749 §6, RFC 7662, RFC 7009)', async () => {
    const rp = (await register({ redirect_uris: ['https://rp.example/cb'], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access' })).body;
    const asRp = { authorization: basic(rp.client_id as string, rp.client_secret as string) };
    const userId = await createUser(server, `contract-${randomUUID().slice(0, 8)}`, 'a long enough password');
    const code = randomBytes(32).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    await new AuthorizationRepository(server.db).insertCode({
      codeHash: createHash('sha256').update(code).digest(), clientId: rp.client_id as string, userId, redirectUri: 'https://rp.example/cb', redirectUriGiven: true,
      codeChallenge: null, scope: 'openid offline_access', nonce: 'n', sid: 'sid', authTime: now, amr: ['pwd'], authTimeRequired: false, createdAt: now, expiresAt: now + 60,
    });
    const tokens = await callForm('/token', { grant_type: 'authorization_code', code, redirect_uri: 'https://rp.example/cb' }, asRp);
    const refreshToken = (tokens.body as JsonObject).refresh_token as string;
    expect(refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const refreshed = await callForm('/token', { grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'openid' }, asRp);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ scope: 'openid', refresh_token: expect.any(String), id_token: expect.any(String) });
    // several resources are a repeated parameter, which the document describes as an array
    expect(schemaProblems(requestSchemaPointer('post', '/token', FORM), { grant_type: 'refresh_token', refresh_token: refreshToken, resource: ['https://a.example', 'https://b.example'] })).toEqual([]);
    const next = (refreshed.body as JsonObject).refresh_token as string;
    const narrowed = await callForm('/token', { grant_type: 'refresh_token', refresh_token: next, resource: 'https://mcp.example.com' }, asRp);
    expect([narrowed.status, (narrowed.body as JsonObject).error]).toEqual([400, 'invalid_target']);
    const introspected = await callForm('/introspect', { token: next, token_type_hint: 'refresh_token' }, asRp);
    expect(introspected.body).toMatchObject({ active: true, token_type: 'refresh_token', client_id: rp.client_id, sub: userId, scope: 'openid offline_access' });
    const reused = await callForm('/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, asRp);
    expect([reused.status, (reused.body as JsonObject).error]).toEqual([400, 'invalid_grant']);
    expect((await callForm('/introspect', { token: next }, asRp)).body).toEqual({ active: false });
    const revoked = await callForm('/revoke', { token: next, token_type_hint: 'refresh_token' }, asRp);
    expect([revoked.status, revoked.text]).toEqual([200, '']);
  });

  it('introspects and revokes access tokens, a client its own only (RFC 7662, RFC 7009)', async () => {
    const owner = await registerMachine();
    const other = await registerMachine({ token_endpoint_auth_method: 'client_secret_post' });
    const token = await accessToken(owner, 'openid');
    const asOwner = { authorization: basic(owner.id, owner.secret) };
    const asOther = { client_id: other.id, client_secret: other.secret };

    const active = await callForm('/introspect', { token, token_type_hint: 'access_token' }, asOwner);
    expect(active.status).toBe(200);
    expect(active.headers.get('cache-control')).toBe('no-store');
    expect(active.body).toMatchObject({ active: true, token_type: 'Bearer', client_id: owner.id, sub: owner.id, scope: 'openid', iss: server.config.issuer });

    for (const [params, headers] of [
      [{ token, ...asOther }, {}],
      [{ token: 'not-a-token' }, asOwner],
      [{ token: `${token.slice(0, -4)}AAAA` }, asOwner],
    ] as const) {
      const res = await callForm('/introspect', params, headers);
      expect([res.status, res.body]).toEqual([200, { active: false }]);
    }

    // Revoking another client's token or a stranger changes nothing; the owner's revocation works.
    for (const [params, headers] of [
      [{ token, ...asOther }, {}],
      [{ token: 'not-a-token', token_type_hint: 'refresh_token' }, asOwner],
    ] as const) {
      const res = await callForm('/revoke', params, headers);
      expect([res.status, res.text]).toEqual([200, '']);
    }
    expect((await callForm('/introspect', { token }, asOwner)).body).toMatchObject({ active: true });
    const revoked = await callForm('/revoke', { token }, asOwner);
    expect([revoked.status, revoked.text, revoked.headers.get('cache-control')]).toEqual([200, '', 'no-store']);
    expect((await callForm('/introspect', { token }, asOwner)).body).toEqual({ active: false });
    expect((await callForm('/revoke', { token }, asOwner)).status).toBe(200);

    for (const path of ['/introspect', '/revoke']) {
      const cases: [RequestOptions, number, string][] = [
        [form({}, asOwner), 400, 'invalid_request'],
        [form({ token: '' }, asOwner), 400, 'invalid_request'],
        [{ body: `token=${token}&token=${token}`, headers: { 'content-type': FORM, ...asOwner } }, 400, 'invalid_request'],
        [form({ token, ...asOther }, asOwner), 400, 'invalid_request'],
        [form({ token }), 401, 'invalid_client'],
        [form({ token }, { authorization: basic(owner.id, 'not-the-secret') }), 401, 'invalid_client'],
        [form({ token, client_id: owner.id, client_secret: owner.secret }), 401, 'invalid_client'],
        [form({ token, pad: 'x'.repeat(70 * 1024) }, asOwner), 413, 'request_too_large'],
        [{ json: { token }, headers: asOwner }, 415, 'unsupported_media_type'],
      ];
      for (const [options, status, error] of cases) {
        const res = await call(server, 'POST', path, options);
        expect([res.status, (res.body as JsonObject).error], `${path} ${JSON.stringify(options).slice(0, 160)}`).toEqual([status, error]);
        if (status === 401) expect(res.headers.get('www-authenticate')).toBe(`Basic realm="${server.config.issuer}"`);
      }
    }
  });

  it('publishes the public signing keys of every algorithm the operator may choose (RFC 7517 §5)', async () => {
    const res = await call(server, 'GET', '/jwks');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json\b/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const metadata = await call(server, 'GET', '/.well-known/openid-configuration');
    expect((metadata.body as JsonObject).jwks_uri).toBe(`${server.config.issuer}/jwks`);
    // The checker refuses a key set that leaks a private member.
    const [key] = (res.body as { keys: JsonObject[] }).keys;
    const leaked = { ...res, body: { keys: [{ ...key, d: 'AAAA' }] } };
    expect(responseProblems(leaked)).not.toEqual([]);

    // every algorithm the operator may choose, in one key set
    const other = await startTestServer({ SIGNING_KEY_ALGS: SERVER_SIGNING_ALGS.join(',') });
    try {
      const keys = await call(other, 'GET', '/jwks');
      expect(keys.status).toBe(200);
      expect((keys.body as { keys: JsonObject[] }).keys.map((k) => k.alg).sort()).toEqual([...SERVER_SIGNING_ALGS].sort());
    } finally {
      await other.close();
    }
  });

  it('answers 500 server_error when the database fails, 503 temporarily_unavailable when it is out of reach, as documented', async () => {
    const created = (await register({ redirect_uris: ['https://rp.example/cb'] })).body;
    const path = `/register/${created.client_id as string}`;
    const token = created.registration_access_token as string;
    const machine = await registerMachine();
    const asMachine = { authorization: basic(machine.id, machine.secret) };
    const accessTokenBefore = await accessToken(machine);
    const attempts: Attempt[] = [
      ['POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } }],
      ['GET', path, { token }],
      ['PUT', path, { token, json: { client_id: created.client_id, redirect_uris: ['https://rp.example/cb'] } }],
      ['DELETE', path, { token }],
      ['POST', '/token', form({ grant_type: 'client_credentials' }, asMachine)],
      ['POST', '/introspect', form({ token: accessTokenBefore }, asMachine)],
      ['POST', '/revoke', form({ token: accessTokenBefore }, asMachine)],
    ];
    await withDatabaseTrouble(server, async (trouble) => {
      await expectTroubleAnswers(server, attempts, trouble);
      const ready = await call(server, 'GET', '/readyz');
      expect([ready.status, (ready.body as JsonObject).error]).toEqual([503, 'temporarily_unavailable']);
    });
    expect((await call(server, 'GET', '/readyz')).status).toBe(200);
  });

  it('answers 404 not_found, as the NotFound response describes, for what no operation matches', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['GET', '/register'],
      ['POST', '/healthz'],
      ['PATCH', '/register/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['GET', '/register/a/b'],
      ['PUT', '/admin/clients'],
      ['POST', '/admin/clients/AAAAAAAAAAAAAAAAAAAAAAAA/archive'],
      ['DELETE', '/admin/keys'],
    ] as const) {
      expect(findOperation(method, path), `${method} ${path} is documented`).toBeUndefined();
      const res = await call(server, method, path, method === 'GET' ? {} : { json: {} });
      expect([res.status, (res.body as JsonObject).error]).toEqual([404, 'not_found']);
    }
  });

  // ---- the admin API ----

  it('ends sessions at the end_session_endpoint, each answer as documented (RP-Initiated Logout 1.0)', async () => {
    const back = 'https://rp.example/bye';
    const client = await register({ redirect_uris: ['https://rp.example/cb'], post_logout_redirect_uris: [back], client_name: 'Logout RP' });
    const clientId = client.body.client_id as string;
    const userId = await createUser(server, `logout-${randomUUID().slice(0, 8)}`, 'correct horse battery');
    const username = (await server.db.query<{ username: string }>('SELECT username FROM users WHERE id = $1', [userId]))[0]!.username;
    const browser = new Visitor(server.url);
    /** A page exchange (redirects not followed), checked against the document. */
    const page = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>, visitor = browser) => {
      const res = await visitor.send(method, path, form);
      conforms({ method, path, status: res.status, headers: res.headers, text: res.text, body: undefined });
      return res;
    };
    const hidden = (html: string) => Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));

    const hint = await mintIdToken(server, { aud: clientId, sub: userId });
    const params = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: back, state: 's1' });
    // no session: straight back to the client
    expect((await page('GET', `/logout?${params.toString()}`)).location).toBe(`${back}?state=s1`);
    // a foreign redirect URI: the error page, by GET and POST
    const foreign = { id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/' };
    expect((await page('GET', `/logout?${new URLSearchParams(foreign).toString()}`)).status).toBe(400);
    expect((await page('POST', '/logout', { ...foreign, confirm: 'yes' })).status).toBe(403);
    await browser.signIn(username, 'correct horse battery');
    expect((await page('POST', '/logout', foreign)).status).toBe(400);
    // a relying party's POST: with the cookie the confirmation, without it on to the GET
    expect((await page('POST', '/logout', Object.fromEntries(params))).status).toBe(200);
    expect((await page('POST', '/logout', Object.fromEntries(params), new Visitor(server.url))).status).toBe(303);
    const confirmation = await page('GET', `/logout?${params.toString()}`);
    expect(confirmation.status).toBe(200);
    const out = await page('POST', '/logout', hidden(confirmation.text));
    expect([out.status, out.location]).toEqual([303, `${back}?state=s1`]);
  });

  describe('the admin API', () => {
    let adminServer: TestServer;
    let credentials: AdminCredentials;
    /** admin:read and admin:write, as the CLI asks. */
    let token: string;
    let readOnly: string;
    let writeOnly: string;
    beforeAll(async () => {
      adminServer = await startTestServer();
      credentials = await bootstrapAdmin(adminServer);
      token = await adminToken(adminServer, credentials);
      readOnly = await adminToken(adminServer, credentials, 'admin:read');
      writeOnly = await adminToken(adminServer, credentials, 'admin:write');
    });
    afterAll(async () => adminServer?.close());

    const MERGE_PATCH = 'application/merge-patch+json';
    const machine = { grant_types: ['client_credentials'], scope: 'openid', client_name: 'Billing service' };
    /** The members of the representation the answers have carried, beside the metadata. */
    const shown = new Set<string>();

    /** A request to the admin API with the full admin token unless told otherwise; checked against the document. */
    async function admin(method: string, path: string, options: RequestOptions = {}): Promise<Exchange & { body: JsonObject }> {
      const res = await call(adminServer, method, `${ADMIN_PATH}${path}`, { token, ...options });
      if (isObject(res.body) && typeof res.body.client_id === 'string') for (const name of Object.keys(res.body)) shown.add(name);
      if (isObject(res.body) && Array.isArray(res.body.clients)) for (const client of res.body.clients as JsonObject[]) for (const name of Object.keys(client)) shown.add(name);
      return res as Exchange & { body: JsonObject };
    }

    /** Creates a client after checking the body against the documented request schema. */
    async function create(body: JsonObject): Promise<JsonObject> {
      expect(schemaProblems(requestSchemaPointer('post', '/admin/clients'), body)).toEqual([]);
      const res = await admin('POST', '/clients', { json: body });
      expect(res.status, res.text).toBe(201);
      return res.body;
    }

    /** A merge patch; an object is first checked against the documented patch schema. */
    const patch = (body: unknown): RequestOptions => {
      if (isObject(body)) expect(schemaProblems(requestSchemaPointer('patch', '/admin/clients/{client_id}', MERGE_PATCH), body)).toEqual([]);
      return { body: JSON.stringify(body), headers: { 'content-type': MERGE_PATCH } };
    };
    const json = { 'content-type': 'application/json' };
    const tooLarge = (extra: JsonObject = {}): RequestOptions => ({ body: JSON.stringify({ ...extra, pad: 'x'.repeat(70 * 1024) }), headers: json });
    const asText: RequestOptions = { body: 'disable it', headers: { 'content-type': 'text/plain' } };

    it('creates, reads, lists, changes, rotates and deletes clients, each answer as documented', async () => {
      const created = await create({ ...machine, 'client_name#fr': 'Service de facturation', contacts: ['ops@example.com'], access_token_lifetime: 120, expires_at: 4_000_000_000 });
      const id = created.client_id as string;
      expect(typeof created.client_secret).toBe('string');
      expect(created).toMatchObject({ has_client_secret: true, access_token_lifetime: 120, created_via: 'admin_api', last_used_at: null });
      const publicClient = await create({ redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'none', access_token_format: 'reference', admin: true, disabled: true });
      expect(publicClient).not.toHaveProperty('client_secret');
      expect(publicClient).not.toHaveProperty('client_secret_expires_at');

      const read = await admin('GET', `/clients/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).not.toHaveProperty('client_secret');
      expect((await admin('GET', `/clients/${credentials.client_id}`)).body.created_via).toBe('bootstrap');
      const registered = await call(adminServer, 'POST', '/register', { json: machine });
      expect((await admin('GET', `/clients/${(registered.body as JsonObject).client_id as string}`)).body.created_via).toBe('dynamic_registration');

      // the list, its filters and its pages
      const first = await admin('GET', '/clients?limit=1');
      expect(first.status).toBe(200);
      expect((first.body.clients as JsonObject[]).length).toBe(1);
      const next = await admin('GET', `/clients?limit=1&cursor=${first.body.next_cursor as string}`);
      expect((next.body.clients as JsonObject[])[0]!.client_id).not.toBe((first.body.clients as JsonObject[])[0]!.client_id);
      const filtered = await admin('GET', `/clients?q=BILLING&auth_method=client_secret_basic&disabled=false&expired=false&created_after=0&created_before=${Math.floor(Date.now() / 1000) + 60}&limit=${MAX_PAGE_SIZE}`);
      expect((filtered.body.clients as JsonObject[]).map((c) => c.client_id)).toContain(id);
      const all = await admin('GET', '/clients');
      expect((all.body.clients as JsonObject[]).length).toBeLessThanOrEqual(DEFAULT_PAGE_SIZE);
      expect(all.body.next_cursor).toBeNull();
      expect((await admin('GET', '/clients?q=&disabled=true')).body.clients).toEqual([expect.objectContaining({ client_id: publicClient.client_id })]);

      // a representation read can be sent back changed; a client that newly needs a secret gets one
      const { client_name: _name, ...withoutName } = read.body;
      const replacement = { ...withoutName, client_uri: 'https://billing.example' };
      expect(schemaProblems(requestSchemaPointer('put', '/admin/clients/{client_id}'), replacement)).toEqual([]);
      const replaced = await admin('PUT', `/clients/${id}`, { json: replacement });
      expect(replaced.status).toBe(200);
      expect(replaced.body).not.toHaveProperty('client_name');
      expect(replaced.body).not.toHaveProperty('client_secret');
      const withSecret = await admin('PUT', `/clients/${publicClient.client_id as string}`, { json: { redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_post' } });
      expect(withSecret.status).toBe(200);
      expect(typeof withSecret.body.client_secret).toBe('string');
      const patched = await admin('PATCH', `/clients/${id}`, patch({ client_uri: null, contacts: ['billing@example.com'], expires_at: null, disabled: true }));
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ contacts: ['billing@example.com'], expires_at: null, disabled: true });

      expect((await admin('POST', `/clients/${id}/enable`)).body.disabled).toBe(false);
      expect((await admin('POST', `/clients/${id}/disable`, { json: {} })).body.disabled).toBe(true);
      const rotation = { grace_period: 60 };
      expect(schemaProblems(requestSchemaPointer('post', '/admin/clients/{client_id}/rotate-secret'), rotation)).toEqual([]);
      const rotated = await admin('POST', `/clients/${id}/rotate-secret`, { json: rotation });
      expect([rotated.status, typeof rotated.body.client_secret]).toEqual([200, 'string']);
      expect((await admin('POST', `/clients/${id}/rotate-secret`)).status).toBe(200);
      const reissued = await admin('POST', `/clients/${id}/rotate-registration-token`);
      expect([reissued.status, typeof reissued.body.registration_access_token]).toEqual([200, 'string']);

      const deleted = await admin('DELETE', `/clients/${id}`);
      expect([deleted.status, deleted.text]).toEqual([204, '']);
      expect((await admin('GET', `/clients/${id}`)).status).toBe(404);

      // every member the document lists beside the metadata has been in a real answer
      const fields = asObject((schema('AdminClientFields').allOf as JsonObject[])[2], 'AdminClientFields.allOf[2]');
      const documented = [...Object.keys(asObject(fields.properties, 'properties')), ...SETTING_FIELD_NAMES].filter((name) => !(name in CLIENT_METADATA_FIELDS));
      expect(documented.filter((name) => !shown.has(name))).toEqual([]);
    });

    it('gives the tokens the client\'s own settings: reference tokens and lifetimes, disabled and expired clients (RFC 6749 §5.1, RFC 7662)', async () => {
      const created = await create({ ...machine, access_token_format: 'reference', access_token_lifetime: 90 });
      const auth = { authorization: basic(created.client_id as string, created.client_secret as string) };
      const issued = await call(adminServer, 'POST', '/token', form({ grant_type: 'client_credentials' }, auth));
      expect([issued.status, (issued.body as JsonObject).expires_in]).toEqual([200, 90]);
      const reference = (issued.body as JsonObject).access_token as string;
      expect(reference).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const active = await call(adminServer, 'POST', '/introspect', form({ token: reference }, auth));
      expect(active.body).toMatchObject({ active: true, client_id: created.client_id, scope: 'openid' });

      // a disabled client cannot authenticate or manage itself; an expired one neither
      await admin('POST', `/clients/${created.client_id as string}/disable`);
      expect((await call(adminServer, 'POST', '/token', form({ grant_type: 'client_credentials' }, auth))).status).toBe(401);
      const self = await call(adminServer, 'GET', `/register/${created.client_id as string}`, { token: created.registration_access_token as string });
      expect([self.status, (self.body as JsonObject).error]).toEqual([401, 'invalid_token']);
      await admin('PATCH', `/clients/${created.client_id as string}`, patch({ disabled: null, expires_at: Math.floor(Date.now() / 1000) - 1 }));
      expect((await call(adminServer, 'POST', '/token', form({ grant_type: 'client_credentials' }, auth))).status).toBe(401);

      // the admin scopes only for admin clients
      const plain = await create(machine);
      const asked = await call(adminServer, 'POST', '/token', form({ grant_type: 'client_credentials', scope: 'admin:read' }, { authorization: basic(plain.client_id as string, plain.client_secret as string) }));
      expect([asked.status, (asked.body as JsonObject).error]).toEqual([400, 'invalid_scope']);
    });

    it('creates, lists, reads and revokes initial access tokens, and manages registration policies, each answer as documented', async () => {
      const json = { 'content-type': 'application/json' };
      const policyBody = { name: 'partner-a', description: 'Partner A', rules: { redirect_uri_hosts: ['*.partner-a.example'], grant_types: ['authorization_code'], max_clients_per_token: 5, required_fields: ['contacts'], access_token_format: 'reference' } };
      expect(schemaProblems(requestSchemaPointer('post', '/admin/policies'), policyBody)).toEqual([]);
      const created = await admin('POST', '/policies', { json: policyBody });
      expect([created.status, created.headers.get('location')]).toEqual([201, `${adminServer.config.issuer}/admin/policies/partner-a`]);
      expect(created.body).toMatchObject({ name: 'partner-a', is_default: false, rules: policyBody.rules });
      expect((await admin('GET', '/policies')).body.policies).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'partner-a' })]));
      expect((await admin('GET', '/policies/partner-a')).status).toBe(200);
      const replacement = { ...created.body, rules: { ...policyBody.rules, max_clients: 100 } };
      expect(schemaProblems(requestSchemaPointer('put', '/admin/policies/{name}'), replacement)).toEqual([]);
      expect((await admin('PUT', '/policies/partner-a', { json: replacement })).body.rules).toMatchObject({ max_clients: 100 });
      const chosen = await admin('PUT', '/default-policy', { json: { name: 'partner-a' } });
      expect([chosen.status, chosen.body.is_default]).toEqual([200, true]);
      expect((await admin('DELETE', '/default-policy')).status).toBe(204);

      const tokenBody = { description: 'partner A onboarding', policy: 'partner-a', max_uses: 5, expires_in: 604_800 };
      expect(schemaProblems(requestSchemaPointer('post', '/admin/initial-access-tokens'), tokenBody)).toEqual([]);
      const iat = await admin('POST', '/initial-access-tokens', { json: tokenBody });
      expect([iat.status, iat.headers.get('location')]).toEqual([201, `${adminServer.config.issuer}/admin/initial-access-tokens/${iat.body.id as string}`]);
      const registered = await call(adminServer, 'POST', '/register', {
        json: { redirect_uris: ['https://app.partner-a.example/cb'], contacts: ['ops@partner-a.example'] },
        token: iat.body.token as string,
      });
      expect(registered.status).toBe(201);
      const refused = await call(adminServer, 'POST', '/register', { json: { redirect_uris: ['https://elsewhere.example/cb'], contacts: ['ops@partner-a.example'] }, token: iat.body.token as string });
      expect((refused.body as JsonObject).error).toBe('invalid_redirect_uri');
      const client = await admin('GET', `/clients/${(registered.body as JsonObject).client_id as string}`);
      expect(client.body).toMatchObject({ initial_access_token_id: iat.body.id, registration_policy: 'partner-a', access_token_format: 'reference' });
      expect((await admin('GET', `/initial-access-tokens/${iat.body.id as string}`)).body).toMatchObject({ uses: 1, uses_left: 4, state: 'active' });
      expect((await admin('GET', '/initial-access-tokens')).body.initial_access_tokens).toEqual(expect.arrayContaining([expect.objectContaining({ id: iat.body.id })]));
      const revoked = await admin('POST', `/initial-access-tokens/${iat.body.id as string}/revoke`, { json: {} });
      expect([revoked.status, revoked.body.state]).toEqual([200, 'revoked']);
      const afterRevoke = await call(adminServer, 'POST', '/register', { json: { redirect_uris: ['https://app.partner-a.example/cb'] }, token: iat.body.token as string });
      expect([afterRevoke.status, (afterRevoke.body as JsonObject).error]).toEqual([401, 'invalid_token']);

      const unknownToken = '/initial-access-tokens/0123456789abcdef0123';
      const cases: [string, string, RequestOptions, number, string][] = [
        ['POST', '/initial-access-tokens', { json: { max_uses: 0 } }, 400, 'invalid_request'],
        ['POST', '/initial-access-tokens', { json: { policy: 'no-such-policy' } }, 400, 'invalid_request'],
        ['POST', '/initial-access-tokens', { json: ['x'] }, 400, 'invalid_request'],
        ['POST', '/initial-access-tokens', tooLarge(), 413, 'request_too_large'],
        ['POST', '/initial-access-tokens', asText, 415, 'unsupported_media_type'],
        ['GET', unknownToken, {}, 404, 'not_found'],
        ['GET', '/initial-access-tokens/not-an-id', {}, 404, 'not_found'],
        ['POST', `${unknownToken}/revoke`, {}, 404, 'not_found'],
        ['POST', `/initial-access-tokens/${iat.body.id as string}/revoke`, { json: ['now'] }, 400, 'invalid_request'],
        ['POST', `/initial-access-tokens/${iat.body.id as string}/revoke`, tooLarge(), 413, 'request_too_large'],
        ['POST', `/initial-access-tokens/${iat.body.id as string}/revoke`, asText, 415, 'unsupported_media_type'],

        ['POST', '/policies', { json: { name: 'p2', rules: { max_client: 1 } } }, 400, 'invalid_request'],
        ['POST', '/policies', { json: { name: 'p2', rules: { require_software_statement: true } } }, 400, 'invalid_request'],
        ['POST', '/policies', { json: policyBody }, 409, 'conflict'],
        ['POST', '/policies', tooLarge(), 413, 'request_too_large'],
        ['POST', '/policies', asText, 415, 'unsupported_media_type'],
        ['GET', '/policies/nobody', {}, 404, 'not_found'],
        ['GET', '/policies/Not A Name', {}, 404, 'not_found'],
        ['PUT', '/policies/partner-a', { json: { name: 'partner-b', rules: {} } }, 400, 'invalid_request'],
        ['PUT', '/policies/nobody', { json: { rules: {} } }, 404, 'not_found'],
        ['PUT', '/policies/partner-a', tooLarge({ rules: {} }), 413, 'request_too_large'],
        ['PUT', '/policies/partner-a', asText, 415, 'unsupported_media_type'],
        ['DELETE', '/policies/partner-a', {}, 409, 'conflict'], // a client registered under it
        ['DELETE', '/policies/nobody', {}, 404, 'not_found'],
        ['DELETE', '/policies/partner-a', { body: '{', headers: json }, 400, 'invalid_request'],
        ['DELETE', '/policies/partner-a', tooLarge(), 413, 'request_too_large'],
        ['DELETE', '/policies/partner-a', asText, 415, 'unsupported_media_type'],
        ['PUT', '/default-policy', { json: { name: 'nobody' } }, 400, 'invalid_request'],
        ['PUT', '/default-policy', tooLarge(), 413, 'request_too_large'],
        ['PUT', '/default-policy', asText, 415, 'unsupported_media_type'],
        ['DELETE', '/default-policy', { body: '{', headers: json }, 400, 'invalid_request'],
        ['DELETE', '/default-policy', tooLarge(), 413, 'request_too_large'],
        ['DELETE', '/default-policy', asText, 415, 'unsupported_media_type'],
      ];
      for (const [method, path, options, status, error] of cases) {
        const res = await admin(method, path, options);
        expect([res.status, res.body.error], `${method} ${path} ${JSON.stringify(options).slice(0, 120)}`).toEqual([status, error]);
      }
      const spare = await admin('POST', '/policies', { json: { name: 'spare', rules: {} } });
      expect(spare.status).toBe(201);
      const deleted = await admin('DELETE', '/policies/spare');
      expect([deleted.status, deleted.text]).toEqual([204, '']);
    });

    it('creates, lists, reads, patches, disables, enables, sets the password of and deletes users, each answer as documented', async () => {
      const newUser = { username: 'alice', password: 'correct horse battery staple', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell', address: { locality: 'Oxford', country: 'UK' } };
      expect(schemaProblems(requestSchemaPointer('post', '/admin/users'), newUser)).toEqual([]);
      const created = await admin('POST', '/users', { json: newUser });
      const id = created.body.id as string;
      expect([created.status, created.headers.get('location')]).toEqual([201, `${adminServer.config.issuer}/admin/users/${id}`]);
      expect(created.text).not.toContain(newUser.password);
      const user = `/users/${id}`;
      expect((await admin('GET', '/users?limit=1&q=alice&disabled=false')).body.users).toEqual([created.body]);
      expect((await admin('GET', user)).body).toEqual(created.body);
      const change = { nickname: 'Al', name: null, address: { country: null } };
      expect(schemaProblems(requestSchemaPointer('patch', '/admin/users/{id}', MERGE_PATCH), change)).toEqual([]);
      const patched = await admin('PATCH', user, { body: JSON.stringify(change), headers: { 'content-type': MERGE_PATCH } });
      expect([patched.status, patched.body.nickname, patched.body.name, patched.body.address]).toEqual([200, 'Al', undefined, { locality: 'Oxford' }]);
      expect((await admin('POST', `${user}/disable`)).body.disabled).toBe(true);
      expect((await admin('POST', `${user}/enable`, { json: {} })).body.disabled).toBe(false);
      expect(schemaProblems(requestSchemaPointer('post', '/admin/users/{id}/set-password'), { password: 'another horse battery' })).toEqual([]);
      expect((await admin('POST', `${user}/set-password`, { json: { password: 'another horse battery' } })).status).toBe(200);
      const bob = (await admin('POST', '/users', { json: { username: 'bob', password: 'bob-password-1' } })).body.id as string;

      const unknown = '/users/0123456789abcdef0123456789abcdef';
      const mergePatch = (body: unknown): RequestOptions => ({ body: JSON.stringify(body), headers: { 'content-type': MERGE_PATCH } });
      const cases: [string, string, RequestOptions, number, string][] = [
        ...['limit=0', 'cursor=bogus', 'disabled=yes', 'sort=name', 'q=a&q=b'].map((query): [string, string, RequestOptions, number, string] => ['GET', `/users?${query}`, {}, 400, 'invalid_request']),
        ['POST', '/users', { json: { username: 'carol', password: 'short' } }, 400, 'invalid_request'],
        ['POST', '/users', { json: { username: 'carol', password: 'carol-password', email: 'carol' } }, 400, 'invalid_request'],
        ['POST', '/users', { json: ['carol'] }, 400, 'invalid_request'],
        ['POST', '/users', { json: { username: 'ALICE', password: 'another-password' } }, 409, 'conflict'],
        ['POST', '/users', tooLarge(), 413, 'request_too_large'],
        ['POST', '/users', asText, 415, 'unsupported_media_type'],
        ['GET', unknown, {}, 404, 'not_found'],
        ['GET', '/users/not-a-user', {}, 404, 'not_found'],
        ['PATCH', user, mergePatch({ phone_number: '12' }), 400, 'invalid_request'],
        ['PATCH', user, mergePatch({ password: 'sneaky-password' }), 400, 'invalid_request'],
        ['PATCH', unknown, mergePatch({ nickname: 'x' }), 404, 'not_found'],
        ['PATCH', `/users/${bob}`, mergePatch({ username: 'Alice' }), 409, 'conflict'],
        ['PATCH', user, { body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), headers: { 'content-type': MERGE_PATCH } }, 413, 'request_too_large'],
        ['PATCH', user, { json: { nickname: 'x' } }, 415, 'unsupported_media_type'],
        ['DELETE', user, { body: '{', headers: json }, 400, 'invalid_request'],
        ['DELETE', unknown, {}, 404, 'not_found'],
        ['DELETE', user, tooLarge(), 413, 'request_too_large'],
        ['DELETE', user, asText, 415, 'unsupported_media_type'],
        ...['disable', 'enable'].flatMap((action): [string, string, RequestOptions, number, string][] => [
          ['POST', `${user}/${action}`, { json: ['now'] }, 400, 'invalid_request'],
          ['POST', `${unknown}/${action}`, {}, 404, 'not_found'],
          ['POST', `${user}/${action}`, tooLarge(), 413, 'request_too_large'],
          ['POST', `${user}/${action}`, asText, 415, 'unsupported_media_type'],
        ]),
        ['POST', `${user}/set-password`, { json: { password: 'short' } }, 400, 'invalid_request'],
        ['POST', `${unknown}/set-password`, { json: { password: 'long-enough-password' } }, 404, 'not_found'],
        ['POST', `${user}/set-password`, tooLarge(), 413, 'request_too_large'],
        ['POST', `${user}/set-password`, asText, 415, 'unsupported_media_type'],
      ];
      for (const [method, path, options, status, error] of cases) {
        const res = await admin(method, path, options);
        expect([res.status, res.body.error], `${method} ${path} ${JSON.stringify(options).slice(0, 120)}`).toEqual([status, error]);
      }
      const deleted = await admin('DELETE', user);
      expect([deleted.status, deleted.text]).toEqual([204, '']);
    });

    it('lists and revokes the consent users gave, each answer as documented', async () => {
      const created = await admin('POST', '/users', { json: { username: `consenting-${randomUUID().slice(0, 8)}`, password: 'consenting-user-password' } });
      const id = created.body.id as string;
      const { client_id: clientId } = await create({ redirect_uris: ['https://rp.example/cb'] });
      await new ConsentRepository(adminServer.db).grant({ userId: id, clientId: clientId as string, scope: 'openid profile', grantedAt: 1_700_000_000 });
      const listed = await admin('GET', `/users/${id}/consents`);
      expect([listed.status, listed.body]).toEqual([200, { consents: [{ client_id: clientId, scope: 'openid profile', granted_at: 1_700_000_000 }] }]);
      expect((await admin('DELETE', `/users/${id}/consents/${clientId as string}`)).status).toBe(204);
      const gone = await admin('DELETE', `/users/${id}/consents/${clientId as string}`);
      expect([gone.status, gone.body.error]).toEqual([404, 'not_found']);
      expect((await admin('GET', `/users/${'0'.repeat(32)}/consents`)).status).toBe(404);
    });

    it('lists and adds signing keys as documented: every algorithm, or the one named', async () => {
      const states = async () => ((await admin('GET', '/keys')).body.keys as JsonObject[]).map((key) => `${key.alg as string} ${key.state as string}`).sort();
      const before = await admin('GET', '/keys');
      expect(before.status).toBe(200);
      expect(await states()).toEqual(['ES256 active', 'RS256 active']);

      const one = await admin('POST', '/keys/rotate', { json: { alg: 'RS256' } });
      expect([one.status, one.headers.get('location')]).toEqual([201, null]);
      expect((one.body.keys as JsonObject[]).map((key) => [key.alg, key.state])).toEqual([['RS256', 'pending']]);
      expect(await states()).toEqual(['ES256 active', 'RS256 active', 'RS256 pending']);

      const all = await admin('POST', '/keys/rotate');
      expect((all.body.keys as JsonObject[]).map((key) => [key.alg, key.state])).toEqual([['ES256', 'pending'], ['RS256', 'pending']]);
      expect(await states()).toEqual(['ES256 active', 'ES256 pending', 'RS256 active', 'RS256 pending', 'RS256 pending']);

      for (const body of [{ alg: 'EdDSA' }, { alg: 'HS256' }, { alg: 'RS256', extra: true }]) {
        const refused = await admin('POST', '/keys/rotate', { json: body });
        expect([refused.status, refused.body.error], JSON.stringify(body)).toEqual([400, 'invalid_request']);
      }
    });

    it('lists the audit trail, newest first and filtered, as documented', async () => {
      const { client_id: id } = await create(machine);
      await admin('POST', `/clients/${id as string}/disable`);
      const all = await admin('GET', '/audit?limit=1');
      expect([all.status, (all.body.entries as JsonObject[]).length, typeof all.body.next_cursor]).toEqual([200, 1, 'string']);
      const next = await admin('GET', `/audit?limit=1&cursor=${all.body.next_cursor as string}`);
      expect((next.body.entries as JsonObject[])[0]!.id).toBeLessThan((all.body.entries as JsonObject[])[0]!.id as number);
      const filtered = await admin('GET', `/audit?client_id=${id as string}&action=client.disable&actor=admin&since=0&until=999999999999`);
      expect((filtered.body.entries as JsonObject[]).map((entry) => [entry.action, entry.client_id, entry.actor_id, entry.changed_fields])).toEqual([
        ['client.disable', id, credentials.client_id, ['disabled']],
      ]);
      expect(filtered.body.next_cursor).toBeNull();
    });

    /** One request each operation accepts, for the checks every operation shares. */
    async function everyOperation(): Promise<Attempt[]> {
      const { client_id: id } = await create(machine);
      const policy = (await admin('POST', '/policies', { json: { name: `every-${randomUUID()}`, rules: {} } })).body;
      const iat = (await admin('POST', '/initial-access-tokens', { json: {} })).body;
      const client = `/clients/${id as string}`;
      const user = `/users/${(await admin('POST', '/users', { json: { username: `u-${randomUUID()}`, password: 'every-operation-password' } })).body.id as string}`;
      return [
        ['GET', '/clients', {}],
        ['POST', '/clients', { json: machine }],
        ['GET', client, {}],
        ['PUT', client, { json: machine }],
        ['PATCH', client, patch({ client_name: 'Renamed' })],
        ['POST', `${client}/disable`, {}],
        ['POST', `${client}/enable`, {}],
        ['POST', `${client}/rotate-secret`, {}],
        ['POST', `${client}/rotate-registration-token`, {}],
        ['GET', '/keys', {}],
        ['POST', '/keys/rotate', {}],
        ['GET', '/audit', {}],
        ['GET', '/initial-access-tokens', {}],
        ['POST', '/initial-access-tokens', { json: { max_uses: 1 } }],
        ['GET', `/initial-access-tokens/${iat.id as string}`, {}],
        ['POST', `/initial-access-tokens/${iat.id as string}/revoke`, {}],
        ['GET', '/policies', {}],
        ['POST', '/policies', { json: { name: `p-${randomUUID()}`, rules: {} } }],
        ['GET', `/policies/${policy.name as string}`, {}],
        ['PUT', `/policies/${policy.name as string}`, { json: { rules: {} } }],
        ['PUT', '/default-policy', { json: { name: policy.name } }],
        ['DELETE', '/default-policy', {}],
        ['DELETE', `/policies/${policy.name as string}`, {}],
        ['GET', '/users', {}],
        ['POST', '/users', { json: { username: `u-${randomUUID()}`, password: 'another-operation-password' } }],
        ['GET', user, {}],
        ['PATCH', user, { body: JSON.stringify({ nickname: 'Every' }), headers: { 'content-type': MERGE_PATCH } }],
        ['POST', `${user}/disable`, {}],
        ['POST', `${user}/enable`, {}],
        ['POST', `${user}/set-password`, { json: { password: 'a-new-operation-password' } }],
        ['GET', `${user}/consents`, {}],
        ['DELETE', `${user}/consents/${id as string}`, {}],
        ['DELETE', user, {}],
        ['DELETE', client, {}],
      ];
    }

    it('needs an admin access token with the scope each operation names (RFC 6750 §3.1)', async () => {
      const attempts = await everyOperation();
      expect(attempts.map(([method, path]) => operationKey(findOperation(method, `${ADMIN_PATH}${path}`)!)).sort()).toEqual(
        operations.filter((op) => op.template.startsWith(`${ADMIN_PATH}/`)).map(operationKey).sort(),
      );
      for (const [method, path, options] of attempts) {
        const bare = await admin(method, path, { ...options, token: undefined as never });
        expect([bare.status, bare.body.error, bare.headers.get('www-authenticate')], `${method} ${path}`).toEqual([401, 'invalid_token', 'Bearer']);
        const needed = method === 'GET' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write;
        const lacking = await admin(method, path, { ...options, token: method === 'GET' ? writeOnly : readOnly });
        expect([lacking.status, lacking.body.error, lacking.headers.get('www-authenticate')], `${method} ${path}`).toEqual([
          403,
          'insufficient_scope',
          `Bearer error="insufficient_scope", scope="${needed}"`,
        ]);
      }
      // A token that is not one, not this server's, or of a client that is not an admin.
      const other = await create({ ...machine, token_endpoint_auth_method: 'client_secret_basic' });
      const notAdmin = await call(adminServer, 'POST', '/token', form({ grant_type: 'client_credentials' }, { authorization: basic(other.client_id as string, other.client_secret as string) }));
      for (const bad of ['not-a-token', 'A'.repeat(43), (notAdmin.body as JsonObject).access_token as string]) {
        const res = await admin('GET', '/clients', { token: bad });
        expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      }
      expect((await admin('GET', '/clients', { headers: { authorization: basic('a', 'b') }, token: undefined as never })).status).toBe(401);
    });

    it('refuses bad requests with the documented errors, naming the accepted media type', async () => {
      const { client_id: id } = await create(machine);
      const { client_id: publicId } = await create({ redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'none' });
      const client = `/clients/${id as string}`;
      const unknown = '/clients/AAAAAAAAAAAAAAAAAAAAAAAA';
      const badMetadata: [JsonObject, string][] = [
        [{ redirect_uris: ['http://rp.example/cb'] }, 'invalid_redirect_uri'],
        [{ ...machine, grant_types: ['password'] }, 'invalid_client_metadata'],
        [{ ...machine, software_statement: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln' }, 'unapproved_software_statement'],
        [{ ...machine, access_token_lifetime: 86_401 }, 'invalid_request'],
        [{ ...machine, access_token_format: 'opaque' }, 'invalid_request'],
      ];
      const cases: [string, string, RequestOptions, number, string][] = [
        ...['limit=0', `limit=${MAX_PAGE_SIZE + 1}`, 'cursor=bogus', 'disabled=yes', 'created_before=soon', 'auth_method=magic', 'sort=name', 'q=a&q=b', 'limit=1&limit=2']
          .map((query): [string, string, RequestOptions, number, string] => ['GET', `/clients?${query}`, {}, 400, 'invalid_request']),

        ...badMetadata.map(([body, error]): [string, string, RequestOptions, number, string] => ['POST', '/clients', { json: body }, 400, error]),
        ['POST', '/clients', { json: [machine] }, 400, 'invalid_request'],
        ['POST', '/clients', { body: '{"grant_types": [', headers: json }, 400, 'invalid_request'],
        ['POST', '/clients', tooLarge(machine), 413, 'request_too_large'],
        ['POST', '/clients', { body: 'grant_types=client_credentials', headers: { 'content-type': FORM } }, 415, 'unsupported_media_type'],

        ...badMetadata.map(([body, error]): [string, string, RequestOptions, number, string] => ['PUT', client, { json: body }, 400, error]),
        ['PUT', client, { json: { ...machine, client_id: 'someone-else-000000000' } }, 400, 'invalid_request'],
        ['PUT', unknown, { json: machine }, 404, 'not_found'],
        ['PUT', client, tooLarge(machine), 413, 'request_too_large'],
        ['PUT', client, asText, 415, 'unsupported_media_type'],

        ...badMetadata.map(([body, error]): [string, string, RequestOptions, number, string] => ['PATCH', client, patch(body), 400, error]),
        ['PATCH', client, patch(['not', 'an', 'object']), 400, 'invalid_request'],
        ['PATCH', client, { body: '{', headers: { 'content-type': MERGE_PATCH } }, 400, 'invalid_request'],
        ['PATCH', unknown, patch({ client_name: 'x' }), 404, 'not_found'],
        ['PATCH', client, { body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), headers: { 'content-type': MERGE_PATCH } }, 413, 'request_too_large'],
        ['PATCH', client, { json: { client_name: 'x' } }, 415, 'unsupported_media_type'],
        ['PATCH', client, asText, 415, 'unsupported_media_type'],

        ['GET', unknown, {}, 404, 'not_found'],
        ['GET', '/clients/not-a-client-id', {}, 404, 'not_found'],

        ['DELETE', client, { body: '{', headers: json }, 400, 'invalid_request'],
        ['DELETE', unknown, {}, 404, 'not_found'],
        ['DELETE', client, tooLarge(), 413, 'request_too_large'],
        ['DELETE', client, asText, 415, 'unsupported_media_type'],

        ...['disable', 'enable', 'rotate-registration-token'].flatMap((action): [string, string, RequestOptions, number, string][] => [
          ['POST', `${client}/${action}`, { json: ['now'] }, 400, 'invalid_request'],
          ['POST', `${client}/${action}`, { body: '{', headers: json }, 400, 'invalid_request'],
          ['POST', `${unknown}/${action}`, {}, 404, 'not_found'],
          ['POST', `${client}/${action}`, tooLarge(), 413, 'request_too_large'],
          ['POST', `${client}/${action}`, asText, 415, 'unsupported_media_type'],
        ]),

        ['POST', `${client}/rotate-secret`, { json: { grace_period: -1 } }, 400, 'invalid_request'],
        ['POST', `${client}/rotate-secret`, { json: { grace_period: MAX_GRACE_PERIOD_SECONDS + 1 } }, 400, 'invalid_request'],
        ['POST', `${client}/rotate-secret`, { json: { grace_period: '60' } }, 400, 'invalid_request'],
        ['POST', `/clients/${publicId as string}/rotate-secret`, {}, 400, 'invalid_request'],
        ['POST', `${unknown}/rotate-secret`, {}, 404, 'not_found'],
        ['POST', `${client}/rotate-secret`, tooLarge(), 413, 'request_too_large'],
        ['POST', `${client}/rotate-secret`, asText, 415, 'unsupported_media_type'],

        ['POST', '/keys/rotate', { json: 'now' }, 400, 'invalid_request'],
        ['POST', '/keys/rotate', tooLarge(), 413, 'request_too_large'],

        ...['limit=0', `limit=${MAX_PAGE_SIZE + 1}`, 'cursor=bogus', 'action=client.frobnicate', 'client_id=short', 'actor=', 'since=soon', 'until=-1', 'sort=at', 'action=client.create&action=client.delete']
          .map((query): [string, string, RequestOptions, number, string] => ['GET', `/audit?${query}`, {}, 400, 'invalid_request']),
        ['POST', '/keys/rotate', asText, 415, 'unsupported_media_type'],
      ];
      for (const [method, path, options, status, error] of cases) {
        const res = await admin(method, path, options);
        expect([res.status, res.body.error], `${method} ${path} ${JSON.stringify(options).slice(0, 120)}`).toEqual([status, error]);
      }
      // nothing of a refused request was applied
      expect((await admin('GET', client)).body).toMatchObject({ client_name: 'Billing service', grant_types: ['client_credentials'], access_token_lifetime: adminServer.config.tokens.lifetimeSeconds });
    });

    it('answers 409 conflict when other changes to the client win every retry', async () => {
      const { client_id: id } = await create(machine);
      const client = `/clients/${id as string}`;
      const change = ClientRepository.prototype.change;
      // Another operator's change lands between each read of this request and its conditional
      // write (in the write's own transaction, where the repository's queries go).
      const racing = vi.spyOn(ClientRepository.prototype, 'change').mockImplementation(async function (this: ClientRepository, clientId, version, update) {
        await (this as unknown as { db: Queryable }).db.query('UPDATE clients SET version = version + 1 WHERE client_id = $1', [clientId]);
        return change.call(this, clientId, version, update);
      });
      try {
        for (const [method, path, options] of [
          ['PUT', client, { json: machine }],
          ['PATCH', client, patch({ client_name: 'Renamed' })],
          ['POST', `${client}/disable`, {}],
          ['POST', `${client}/enable`, {}],
          ['POST', `${client}/rotate-secret`, {}],
          ['POST', `${client}/rotate-registration-token`, {}],
        ] as Attempt[]) {
          const res = await admin(method, path, options);
          expect([res.status, res.body.error], `${method} ${path}`).toEqual([409, 'conflict']);
        }
      } finally {
        racing.mockRestore();
      }
      expect((await admin('GET', client)).body).toMatchObject({ client_name: 'Billing service', disabled: false });
    });

    it('answers 500 server_error when the database fails, 503 temporarily_unavailable when it is out of reach', async () => {
      const attempts = (await everyOperation()).map(([method, path, options]): Attempt => [method, `${ADMIN_PATH}${path}`, { token, ...options }]);
      await withDatabaseTrouble(adminServer, (trouble) => expectTroubleAnswers(adminServer, attempts, trouble));
      expect((await admin('GET', '/clients')).status).toBe(200);
    });
  });

  describe('with METRICS=on', () => {
    let metricsServer: TestServer;
    beforeAll(async () => {
      metricsServer = await startTestServer({ METRICS: 'on' });
    });
    afterAll(async () => metricsServer?.close());

    it('serves Prometheus text at GET /metrics as documented', async () => {
      const res = await call(metricsServer, 'GET', '/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toContain('# TYPE oidc_registrar_http_requests_total counter');
    });
  });

  describe('with an initial access token (RFC 7591 §3)', () => {
    const initialAccessToken = 'contract-test-initial-access-token-0123456789';
    let protectedServer: TestServer;
    beforeAll(async () => {
      protectedServer = await startTestServer({ REGISTRATION_INITIAL_ACCESS_TOKEN: initialAccessToken });
    });
    afterAll(async () => protectedServer?.close());

    it('refuses registration without it with 401 invalid_token and accepts it with it', async () => {
      const metadata = { redirect_uris: ['https://rp.example/cb'] };
      for (const options of [{ json: metadata }, { json: metadata, token: 'not-the-initial-access-token' }]) {
        const res = await call(protectedServer, 'POST', '/register', options);
        expect([res.status, (res.body as JsonObject).error]).toEqual([401, 'invalid_token']);
      }
      expect((await call(protectedServer, 'POST', '/register', { json: metadata, token: initialAccessToken })).status).toBe(201);
    });
  });

  describe('with registration closed', () => {
    let closedServer: TestServer;
    beforeAll(async () => {
      closedServer = await startTestServer({ REGISTRATION_MODE: 'closed' });
    });
    afterAll(async () => closedServer?.close());

    it('refuses registration with 403 access_denied and announces no registration endpoint', async () => {
      const res = await call(closedServer, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } });
      expect([res.status, (res.body as JsonObject).error]).toEqual([403, 'access_denied']);
      const discovery = await call(closedServer, 'GET', '/.well-known/openid-configuration');
      expect(discovery.body).not.toHaveProperty('registration_endpoint');
    });
  });

  describe('with rate limits (RATE_LIMIT_REGISTER, RATE_LIMIT_TOKEN)', () => {
    let limited: TestServer;
    beforeAll(async () => {
      limited = await startTestServer({ RATE_LIMIT_REGISTER: '1/minute', RATE_LIMIT_TOKEN: '1/minute' });
    });
    afterAll(async () => limited?.close());

    it('answers 429 too_many_requests with Retry-After past a limit, as TooManyRequests describes', async () => {
      const metadata = { redirect_uris: ['https://rp.example/cb'] };
      expect((await call(limited, 'POST', '/register', { json: metadata })).status).toBe(201);
      const attempts: Attempt[] = [['POST', '/register', { json: metadata }]];
      // the token, introspection and revocation endpoints share one count per address
      expect((await call(limited, 'POST', '/token', form({ grant_type: 'client_credentials' }))).status).toBe(401);
      attempts.push(['POST', '/token', form({ grant_type: 'client_credentials' })], ['POST', '/introspect', form({ token: 'x' })], ['POST', '/revoke', form({ token: 'x' })]);
      for (const [method, path, options] of attempts) {
        const res = await call(limited, method, path, options);
        expect([res.status, (res.body as JsonObject).error], `${method} ${path}`).toEqual([429, 'too_many_requests']);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    });
  });

  // Runs last (vitest keeps declaration order within a file): every documented response, and every
  // error code a documented response lists, must have been produced by a real request above.
  it('has exercised every documented operation, status and error code', () => {
    const missing: string[] = [];
    for (const [key, codes] of documentedResponses()) {
      const got = seen.get(key);
      if (!got) {
        missing.push(key);
        continue;
      }
      for (const code of codes) if (!got.has(code)) missing.push(`${key} ${code}`);
    }
    expect(missing).toEqual([]);
    expect(seen.get('unmatched 404')?.has('not_found')).toBe(true);
  });
});
