import type { AdminClient, ClientPage, CreatedVia } from '../admin-client/types.js';
import type { AuditAction, ChangeContext } from '../audit/audit.js';
import { changedFieldNames, withCredentials } from '../audit/changed-fields.js';
import { newClientId, newClientSecret, newRegistrationAccessToken } from '../crypto/random.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { hashToken } from '../crypto/token-hash.js';
import { invalidRequest, OAuthError } from '../http/oauth-error.js';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../protocol/client-metadata-values.js';
import { registrationClientUri } from '../registration/client-registration.js';
import { SERVER_ISSUED_FIELDS } from '../registration/metadata-fields.js';
import { inFieldOrder, needsClientSecret, nestedTooDeep, UNSTORABLE, validateClientMetadata, type MetadataPolicy } from '../registration/validate-metadata.js';
import {
  DEFAULT_SETTINGS,
  type AdminClientChange,
  type ClientFilter,
  type ClientSettings,
  type ClientRepository,
  type ListPosition,
  type NewClient,
  type StoredClient,
} from '../storage/client-repository.js';
import type { AuditRepository } from '../storage/audit-repository.js';
import type { InTransaction } from '../storage/transaction.js';
import { mergePatch } from './merge-patch.js';
import { effectiveSettingsJson, parseSettings, rawSettingsJson, SETTING_FIELD_NAMES } from './settings.js';

export interface AdminDeps {
  clients: ClientRepository;
  /** Reads of the audit trail, and entries that have no change to join (a refused admin request). */
  audit: AuditRepository;
  /** Changes that must be written together (the client and its audit entry) go through this. */
  transaction: InTransaction;
  secrets: SecretBox;
  issuer: string;
  policy: MetadataPolicy;
  clientSecretTtlSeconds: number;
  tokenDefaults: { format: string; lifetimeSeconds: number };
  now: () => number;
  /** Told, with the client as it was, after it changed or was deleted: derived caches drop it. */
  clientChanged: (before: StoredClient) => void;
}

/** Fields of the representation that only the server writes: ignored in a PUT or PATCH body. */
const READ_ONLY_FIELDS = new Set<string>([
  ...SERVER_ISSUED_FIELDS,
  'has_client_secret',
  'created_at',
  'updated_at',
  'created_via',
  'last_used_at',
  'initial_access_token_id',
  'registration_policy',
]);

export const CLIENT_ID_SHAPE = /^[A-Za-z0-9_-]{16,128}$/;

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;
/** A change that loses a race with another operator's is retried this many times. */
const CHANGE_ATTEMPTS = 3;

const notFound = (clientId: string) => new OAuthError('not_found', `no client ${clientId.slice(0, 128)}`);

/** The admin representation: metadata, settings as they take effect, and the server's fields. */
export function adminClient(deps: Pick<AdminDeps, 'issuer' | 'tokenDefaults'>, client: StoredClient): AdminClient {
  return {
    client_id: client.clientId,
    client_id_issued_at: client.clientIdIssuedAt,
    ...(client.secretCiphertext !== null ? { client_secret_expires_at: client.secretExpiresAt } : {}),
    has_client_secret: client.secretCiphertext !== null,
    registration_client_uri: registrationClientUri(deps.issuer, client.clientId),
    ...inFieldOrder(client.metadata),
    token_endpoint_auth_method: client.metadata.token_endpoint_auth_method as string,
    ...effectiveSettingsJson(client.settings, deps.tokenDefaults),
    created_at: client.clientIdIssuedAt,
    updated_at: client.updatedAt,
    created_via: client.createdVia,
    last_used_at: client.lastUsedAt,
    initial_access_token_id: client.initialAccessTokenId,
    registration_policy: client.registrationPolicy,
  } as AdminClient;
}

/**
 * Splits a request body into metadata (validated as at registration; `previous`: the stored
 * metadata of the client it changes) and settings.
 */
async function parseBody(deps: AdminDeps, body: Readonly<Record<string, unknown>>, base = DEFAULT_SETTINGS, previous?: Readonly<Record<string, unknown>>) {
  const metadataPart = Object.fromEntries(
    Object.entries(body).filter(([name]) => !READ_ONLY_FIELDS.has(name) && !(SETTING_FIELD_NAMES as string[]).includes(name)),
  );
  return { metadata: await validateClientMetadata(metadataPart, deps.policy, previous), settings: parseSettings(body, base) };
}

function sealNewSecret(deps: AdminDeps, clientId: string) {
  const secret = newClientSecret();
  return {
    secret,
    secretCiphertext: deps.secrets.seal(secret, clientId),
    secretExpiresAt: deps.clientSecretTtlSeconds === 0 ? 0 : deps.now() + deps.clientSecretTtlSeconds,
  };
}

/** Creates a client as an operator: the same metadata rules as registration, plus settings. */
export async function createClient(
  deps: AdminDeps,
  body: Readonly<Record<string, unknown>>,
  context: ChangeContext,
  createdVia: CreatedVia = 'admin_api',
): Promise<AdminClient & { client_secret?: string; registration_access_token: string }> {
  const { metadata, settings } = await parseBody(deps, body);
  const clientId = newClientId();
  const registrationAccessToken = newRegistrationAccessToken();
  const secret = needsClientSecret(metadata) ? sealNewSecret(deps, clientId) : undefined;
  const client: NewClient = {
    clientId,
    metadata,
    secretCiphertext: secret?.secretCiphertext ?? null,
    secretExpiresAt: secret?.secretExpiresAt ?? 0,
    registrationTokenHash: hashToken(registrationAccessToken),
    clientIdIssuedAt: deps.now(),
    settings,
    createdVia,
  };
  await deps.transaction(async (repos) => {
    await repos.clients.insert(client);
    await repos.audit.record({
      action: createdVia === 'bootstrap' ? 'admin.bootstrap' : 'client.create',
      context,
      clientId,
      changedFields: withCredentials(changedFieldNames(undefined, client, DEFAULT_SETTINGS), { client_secret: secret !== undefined, registration_access_token: true }),
      at: client.clientIdIssuedAt,
    });
  });
  const stored = await getStored(deps, clientId);
  return {
    ...adminClient(deps, stored),
    ...(secret ? { client_secret: secret.secret } : {}),
    registration_access_token: registrationAccessToken,
  };
}

async function getStored(deps: AdminDeps, clientId: string): Promise<StoredClient> {
  const client = CLIENT_ID_SHAPE.test(clientId) ? await deps.clients.findById(clientId) : undefined;
  if (!client) throw notFound(clientId);
  return client;
}

export async function getClient(deps: AdminDeps, clientId: string): Promise<AdminClient> {
  return adminClient(deps, await getStored(deps, clientId));
}

/**
 * Reads the client, lets `decide` compute the change from it, and writes it only if nobody
 * changed the client meanwhile; on a lost race, reads and decides again. The audit entry is
 * written in the transaction of the conditional UPDATE: a lost race records nothing.
 */
async function changeClient(
  deps: AdminDeps,
  clientId: string,
  audit: { action: AuditAction; context: ChangeContext },
  decide: (current: StoredClient) => Promise<AdminClientChange>,
): Promise<StoredClient> {
  for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
    const current = await getStored(deps, clientId);
    const change = await decide(current);
    const updated = await deps.transaction(async (repos) => {
      const written = await repos.clients.change(clientId, current.version, change);
      if (written) {
        await repos.audit.record({
          ...audit,
          clientId,
          changedFields: withCredentials(changedFieldNames(current, written), {
            client_secret: change.secretCiphertext !== undefined && change.secretCiphertext !== current.secretCiphertext,
            registration_access_token: change.registrationTokenHash !== undefined,
          }),
        });
      }
      return written;
    });
    if (updated) {
      deps.clientChanged(current);
      return updated;
    }
  }
  throw new OAuthError('conflict', 'the client is being changed by another request; try again');
}

/** A new secret when the client newly needs one, none when it no longer does, else the same. */
function secretFor(deps: AdminDeps, current: StoredClient, needsSecret: boolean) {
  if (!needsSecret) return { issued: undefined, change: { secretCiphertext: null, secretExpiresAt: 0, previousSecret: null } };
  if (current.secretCiphertext !== null) return { issued: undefined, change: {} };
  const sealed = sealNewSecret(deps, current.clientId);
  return { issued: sealed.secret, change: { secretCiphertext: sealed.secretCiphertext, secretExpiresAt: sealed.secretExpiresAt } };
}

async function replaceWith(
  deps: AdminDeps,
  clientId: string,
  context: ChangeContext,
  document: (current: StoredClient) => Record<string, unknown>,
  settingsBase: (current: StoredClient) => ClientSettings,
) {
  let issued: string | undefined;
  const updated = await changeClient(deps, clientId, { action: 'client.update', context }, async (current) => {
    const body = document(current);
    if (body.client_id !== undefined && body.client_id !== clientId) throw invalidRequest('client_id in the body differs from the client being changed');
    const { metadata, settings } = await parseBody(deps, body, settingsBase(current), current.metadata);
    const secret = secretFor(deps, current, needsClientSecret(metadata));
    issued = secret.issued;
    return { metadata, settings, ...secret.change };
  });
  return { ...adminClient(deps, updated), ...(issued !== undefined ? { client_secret: issued } : {}) };
}

/**
 * PUT: the body replaces the metadata and the token settings (omitted: the server's defaults).
 * disabled, admin, resource_server and expires_at change only when the body names them: a PUT that merely renames
 * a client must not re-enable one an operator switched off, nor make or unmake an admin.
 */
export function replaceClient(deps: AdminDeps, clientId: string, body: Readonly<Record<string, unknown>>, context: ChangeContext) {
  return replaceWith(
    deps,
    clientId,
    context,
    () => ({ ...body }),
    (current) => ({ ...DEFAULT_SETTINGS, disabled: current.settings.disabled, admin: current.settings.admin, resourceServer: current.settings.resourceServer, expiresAt: current.settings.expiresAt }),
  );
}

/** PATCH (RFC 7396): the patch is merged into the client's metadata and settings, then validated as a whole. */
export function patchClient(deps: AdminDeps, clientId: string, patch: unknown, context: ChangeContext) {
  // merged recursively below: no deeper than any metadata can be
  if (nestedTooDeep(patch)) throw invalidRequest('the merge patch is nested deeper than any client metadata');
  return replaceWith(deps, clientId, context, (current) => {
    const document = { ...current.metadata, ...rawSettingsJson(current.settings) };
    const merged = mergePatch(document, patch);
    if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) throw invalidRequest('a merge patch of a client must be a JSON object');
    return merged as Record<string, unknown>;
    // the merged document holds every setting the client has: what it lacks is the default
  }, () => DEFAULT_SETTINGS);
}

export async function deleteClient(deps: AdminDeps, clientId: string, context: ChangeContext): Promise<void> {
  const current = await getStored(deps, clientId);
  const deleted = await deps.transaction(async (repos) => {
    if (!(await repos.clients.deleteById(clientId))) return false;
    await repos.audit.record({ action: 'client.delete', context, clientId });
    return true;
  });
  if (!deleted) throw notFound(clientId);
  deps.clientChanged(current);
}

export async function setDisabled(deps: AdminDeps, clientId: string, disabled: boolean, context: ChangeContext): Promise<AdminClient> {
  const action = disabled ? 'client.disable' : 'client.enable';
  const updated = await changeClient(deps, clientId, { action, context }, async (current) => ({ settings: { ...current.settings, disabled } }));
  return adminClient(deps, updated);
}

export const MAX_GRACE_PERIOD_SECONDS = 7 * 86_400;

function graceFor(current: StoredClient, gracePeriodSeconds: number, now: number): StoredClient['previousSecret'] {
  if (gracePeriodSeconds === 0 || current.secretCiphertext === null) return null;
  const ownExpiry = current.secretExpiresAt === 0 ? Number.POSITIVE_INFINITY : current.secretExpiresAt;
  const expiresAt = Math.min(now + gracePeriodSeconds, ownExpiry);
  return expiresAt > now ? { ciphertext: current.secretCiphertext, expiresAt } : null;
}

/**
 * A new client secret, shown once. With a grace period the previous one keeps authenticating
 * that long, so a deployment can switch over without a gap; without one it stops at once.
 */
export async function rotateSecret(deps: AdminDeps, clientId: string, gracePeriodSeconds: number, context: ChangeContext): Promise<AdminClient & { client_secret: string }> {
  if (!Number.isSafeInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) {
    throw invalidRequest(`grace_period must be a whole number of seconds from 0 to ${MAX_GRACE_PERIOD_SECONDS}`);
  }
  let secret = '';
  const updated = await changeClient(deps, clientId, { action: 'client.rotate_secret', context }, async (current) => {
    if (current.secretCiphertext === null) {
      throw invalidRequest(`the client has no secret to rotate: it authenticates with ${String(current.metadata.token_endpoint_auth_method)}`);
    }
    const sealed = sealNewSecret(deps, clientId);
    secret = sealed.secret;
    return {
      secretCiphertext: sealed.secretCiphertext,
      secretExpiresAt: sealed.secretExpiresAt,
      // the grace period never outlives the old secret's own expiry, nor revives an expired one
      previousSecret: graceFor(current, gracePeriodSeconds, deps.now()),
    };
  });
  return { ...adminClient(deps, updated), client_secret: secret };
}

/** A new registration access token (RFC 7592); the previous one stops working at once. */
export async function rotateRegistrationToken(deps: AdminDeps, clientId: string, context: ChangeContext): Promise<AdminClient & { registration_access_token: string }> {
  const token = newRegistrationAccessToken();
  const updated = await changeClient(deps, clientId, { action: 'client.rotate_registration_token', context }, async () => ({ registrationTokenHash: hashToken(token) }));
  return { ...adminClient(deps, updated), registration_access_token: token };
}

const encodeCursor = (position: ListPosition) => Buffer.from(JSON.stringify([position.issuedAt, position.clientId])).toString('base64url');

function decodeCursor(cursor: string): ListPosition {
  try {
    const [issuedAt, clientId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(issuedAt) && typeof clientId === 'string' && CLIENT_ID_SHAPE.test(clientId)) return { issuedAt: issuedAt as number, clientId };
  } catch {
    // refused below
  }
  throw invalidRequest('cursor is not one this server handed out (next_cursor of a previous page)');
}

function booleanParam(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidRequest(`${name} must be true or false`);
}

export function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,12}$/.test(value)) throw invalidRequest(`${name} must be a time in seconds since the epoch`);
  return Number(value);
}

/** The query string of a list: only `known` parameters, each at most once (a repeated one arrives as an array). */
export function queryParameters(parameters: Readonly<Record<string, string | readonly string[] | undefined>>, known: readonly string[]): Readonly<Record<string, string | undefined>> {
  const unknown = Object.keys(parameters).filter((name) => !known.includes(name));
  if (unknown.length > 0) throw invalidRequest(`unknown query parameter ${unknown.join(', ')}`);
  const repeated = Object.keys(parameters).filter((name) => Array.isArray(parameters[name]));
  if (repeated.length > 0) throw invalidRequest(`query parameter ${repeated.join(', ')} must be given once`);
  return parameters as Readonly<Record<string, string | undefined>>;
}

/** `limit` of a list: DEFAULT_PAGE_SIZE when absent, else 1 to MAX_PAGE_SIZE. */
export function pageLimit(limit: string | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_PAGE_SIZE) throw invalidRequest(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  return Number(limit);
}

/**
 * GET /admin/clients: one page, newest first, with the filters of the query string. A parameter
 * given twice arrives as an array; it is refused, never read as one of its values.
 */
export async function listClients(deps: AdminDeps, parameters: Readonly<Record<string, string | readonly string[] | undefined>>): Promise<ClientPage> {
  const query = queryParameters(parameters, ['limit', 'cursor', 'q', 'auth_method', 'disabled', 'expired', 'created_after', 'created_before']);
  const limit = pageLimit(query.limit);
  if (query.q !== undefined && query.q.length > 200) throw invalidRequest('q must be at most 200 characters');
  // text the database cannot hold (NUL, lone surrogates) can match nothing: refused, not a 500
  // text the database cannot hold can match nothing: refused, not a 500
  if (query.q !== undefined && UNSTORABLE.test(query.q)) throw invalidRequest('q contains a NUL character or an unpaired UTF-16 surrogate');
  if (query.auth_method !== undefined && !(TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(query.auth_method)) {
    throw invalidRequest(`auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
  }
  const filter: ClientFilter = { now: deps.now() };
  if (query.q !== undefined && query.q !== '') filter.text = query.q;
  if (query.auth_method !== undefined) filter.authMethod = query.auth_method;
  const disabled = booleanParam('disabled', query.disabled);
  if (disabled !== undefined) filter.disabled = disabled;
  const expired = booleanParam('expired', query.expired);
  if (expired !== undefined) filter.expired = expired;
  const createdAfter = timeParam('created_after', query.created_after);
  if (createdAfter !== undefined) filter.createdAfter = createdAfter;
  const createdBefore = timeParam('created_before', query.created_before);
  if (createdBefore !== undefined) filter.createdBefore = createdBefore;

  // one row more than asked: whether a next page exists, without a count
  const rows = await deps.clients.list(filter, query.cursor === undefined ? undefined : decodeCursor(query.cursor), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    clients: page.map((client) => adminClient(deps, client)),
    next_cursor: rows.length > limit && last ? encodeCursor({ issuedAt: last.clientIdIssuedAt, clientId: last.clientId }) : null,
  };
}
