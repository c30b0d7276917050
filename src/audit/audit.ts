/**
 * The audit trail's vocabulary: what can be recorded, by whom, and the context a change is made
 * in. The one list of action names: the admin API's filter, the OpenAPI enum, the CLI's choices
 * and the tests read AUDIT_ACTIONS.
 */

export const AUDIT_ACTIONS = [
  /** POST /register (RFC 7591). */
  'client.register',
  /** An operator created a client (admin API). */
  'client.create',
  /** RFC 7592 PUT, admin PUT or PATCH: changed_fields says what. */
  'client.update',
  /** RFC 7592 DELETE or admin DELETE. */
  'client.delete',
  'client.disable',
  'client.enable',
  'client.rotate_secret',
  'client.rotate_registration_token',
  /** A signing key added by an operator (admin API, `keys rotate`). */
  'key.rotate',
  /** The first admin client: `admin bootstrap` or the embedded first start. */
  'admin.bootstrap',
  /** An initial access token issued by an operator (details: its id, policy, limits; never the token). */
  'initial_access_token.create',
  'initial_access_token.revoke',
  /** A registration policy created, its rules or description replaced (changed_fields: the rule names), deleted. */
  'policy.create',
  'policy.update',
  'policy.delete',
  /** The global default policy set (details: the policy) or cleared. */
  'policy.set_default',
  'policy.clear_default',
  /** A user account created, its username or claims changed (changed_fields: their names), deleted. Details: user_id, username. */
  'user.create',
  'user.update',
  'user.delete',
  'user.disable',
  'user.enable',
  /** An operator set a user's password (changed_fields: password; never the password or its hash). */
  'user.set_password',
  /** An operator revoked the consent a user gave a client (the next authorization asks again). */
  'user.revoke_consent',
  /** A run of `secrets reseal`: counts only. */
  'secrets.reseal',
  /** A request to the admin API refused with 401 or 403. */
  'admin.authentication_failed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Who acted: `client` a client managing itself (RFC 7592), `admin` an admin client through the
 * admin API, `cli` the CLI working on the database itself (id: OS user@host), `system` the server
 * on its own, `anonymous` an unauthenticated caller (open registration, a refused admin request).
 */
export const AUDIT_ACTOR_TYPES = ['client', 'admin', 'cli', 'system', 'anonymous'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

export interface AuditActor {
  type: AuditActorType;
  /** The admin client id, the client id, the OS user; null for system and anonymous. */
  id: string | null;
}

/**
 * Who makes a change and from where, handed by the route (or the CLI) to the domain function as
 * a plain value: the domain stays free of HTTP.
 */
export interface ChangeContext {
  actor: AuditActor;
  /** The caller's address (request.ip, which honours TRUST_PROXY); null off the network. */
  sourceAddress: string | null;
  /** request.id, the x-request-id the answer carries; null off the network. */
  requestId: string | null;
}

/** What a change records; `repos.audit.record(...)` inside the change's transaction writes it. */
export interface AuditRecord {
  action: AuditAction;
  context: ChangeContext;
  clientId?: string | null;
  /** NAMES of what changed (metadata fields, settings, client_secret ...), never values. */
  changedFields?: readonly string[];
  /** A few facts that are not secret (a key id, counts, an error code). */
  details?: Readonly<Record<string, string | number | boolean>>;
  /** Seconds since the epoch; by default now. */
  at?: number;
}

/** An entry as listed (admin API, CLI, TUI). */
export interface AuditEntry {
  id: number;
  /** Seconds since the epoch. */
  at: number;
  action: AuditAction;
  actor_type: AuditActorType;
  actor_id: string | null;
  client_id: string | null;
  source_address: string | null;
  request_id: string | null;
  changed_fields: string[];
  details: Record<string, string | number | boolean>;
}

/** The context of what the server does by itself (the embedded first-start bootstrap). */
export const SYSTEM_CONTEXT: ChangeContext = { actor: { type: 'system', id: null }, sourceAddress: null, requestId: null };
