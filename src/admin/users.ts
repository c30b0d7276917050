import { randomBytes } from 'node:crypto';
import type { AdminUser, UserPage } from '../admin-client/types.js';
import type { AuditAction, ChangeContext } from '../audit/audit.js';
import { invalidRequest, OAuthError } from '../http/oauth-error.js';
import { nestedTooDeep, UNSTORABLE } from '../registration/validate-metadata.js';
import type { InTransaction, Repositories } from '../storage/transaction.js';
import type { StoredUser, UserChange, UserFilter, UserListPosition, UserRepository } from '../storage/user-repository.js';
import { checkClaim, isUserClaim, USER_CLAIM_NAMES, VERIFIED_FLAGS, type UserClaimName } from '../users/claims.js';
import { checkPassword, hashPassword } from '../users/password.js';
import { checkUsername } from '../users/username.js';
import { pageLimit, queryParameters } from './clients.js';
import { mergePatch } from './merge-patch.js';

export interface UserDeps {
  users: UserRepository;
  /** Every change goes through here, with its audit entry. */
  transaction: InTransaction;
  now: () => number;
}

const USER_ID = /^[0-9a-f]{32}$/;
/** Shown in the representation; the server alone writes them. */
const READ_ONLY_FIELDS = ['id', 'disabled', 'created_at', 'updated_at'];

const notFound = (id: string) => new OAuthError('not_found', `no user ${id.slice(0, 64)}`);

/** The claims of a stored user, by name: e-mail from its columns, the others from `profile`. */
function claimsOf(user: StoredUser): Record<string, unknown> {
  return { ...user.profile, ...(user.email !== null ? { email: user.email } : {}), email_verified: user.emailVerified };
}

/** The admin representation: never the password hash. */
export function adminUser(user: StoredUser): AdminUser {
  const claims = claimsOf(user);
  const shown = Object.fromEntries(USER_CLAIM_NAMES.filter((name) => claims[name] !== undefined).map((name) => [name, claims[name]]));
  return {
    id: user.id,
    username: user.username,
    ...shown,
    email_verified: user.emailVerified,
    phone_number_verified: user.profile.phone_number_verified === true,
    disabled: user.disabled,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  } as AdminUser;
}

/** Claims as stored: e-mail and its flag in columns, the rest in `profile`; false flags are left out. */
function storedClaims(claims: Readonly<Record<string, unknown>>): Pick<StoredUser, 'email' | 'emailVerified' | 'profile'> {
  const profile: Record<string, unknown> = {};
  for (const name of USER_CLAIM_NAMES) {
    if (name === 'email' || name === 'email_verified' || claims[name] === undefined || claims[name] === null) continue;
    if (VERIFIED_FLAGS.includes(name) && claims[name] === false) continue;
    profile[name] = claims[name];
  }
  return { email: typeof claims.email === 'string' ? claims.email : null, emailVerified: claims.email_verified === true, profile };
}

/** Anything that is no claim (nor `allowed`) refused by name. */
function refuseUnknown(body: Readonly<Record<string, unknown>>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((name) => !isUserClaim(name) && !allowed.includes(name));
  if (unknown.length > 0) throw invalidRequest(`unknown field ${unknown.join(', ')} (a user has username, password and the claims ${USER_CLAIM_NAMES.join(', ')})`);
}

/** Each claim of `body` checked (null: not set); anything that is no claim (nor `allowed`) refused by name. */
function checkClaims(body: Readonly<Record<string, unknown>>, allowed: readonly string[]): Record<UserClaimName, unknown> {
  refuseUnknown(body, allowed);
  const claims: Partial<Record<UserClaimName, unknown>> = {};
  for (const name of USER_CLAIM_NAMES) {
    if (body[name] === undefined || body[name] === null) continue;
    checkClaim(name, body[name]);
    claims[name] = body[name];
  }
  return claims as Record<UserClaimName, unknown>;
}

/** Names of the claims (and `username`) that differ: what the audit trail records, never values. */
function changedFields(before: StoredUser | undefined, after: StoredUser): string[] {
  const was = before === undefined ? {} : claimsOf(before);
  const is = claimsOf(after);
  const claims = USER_CLAIM_NAMES.filter((name) => JSON.stringify(was[name] ?? (VERIFIED_FLAGS.includes(name) ? false : null)) !== JSON.stringify(is[name] ?? (VERIFIED_FLAGS.includes(name) ? false : null)));
  return [...(before?.username !== after.username ? ['username'] : []), ...claims];
}

const details = (user: StoredUser) => ({ user_id: user.id, username: user.username });

const usernameTaken = (username: string) => new OAuthError('conflict', `the username ${username} is taken (usernames are unique whatever their case)`);

/** POST /admin/users: a username, a password, and any of the standard claims. */
export async function createUser(deps: UserDeps, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<AdminUser> {
  const username = checkUsername(body.username);
  if (!('password' in body)) throw invalidRequest('password is required (at least 8 characters)');
  const password = checkPassword(body.password);
  const claims = checkClaims(body, ['username', 'password']);
  // hashed before the transaction: no connection is held while scrypt runs
  const passwordHash = await hashPassword(password);
  const now = deps.now();
  const created = await deps.transaction(async (repos) => {
    if (!(await repos.users.holdUsername(username))) return undefined;
    const inserted = await repos.users.insert({ id: randomBytes(16).toString('hex'), username, passwordHash, ...storedClaims(claims), createdAt: now });
    if (inserted !== undefined) {
      await repos.audit.record({ action: 'user.create', context, changedFields: [...changedFields(undefined, inserted), 'password'], details: details(inserted), at: now });
    }
    return inserted;
  });
  if (created === undefined) throw usernameTaken(username);
  return adminUser(created);
}

export async function getUser(deps: UserDeps, id: string): Promise<AdminUser> {
  const user = USER_ID.test(id) ? await deps.users.findById(id) : undefined;
  if (user === undefined) throw notFound(id);
  return adminUser(user);
}

/**
 * Locks the user, lets `decide` compute the change from it and writes it with its audit entry,
 * in one transaction. `changed` names what the entry records; nothing changed, nothing recorded.
 */
async function changeUser(
  deps: UserDeps,
  id: string,
  action: AuditAction,
  context: ChangeContext,
  decide: (current: StoredUser, repos: Repositories) => Promise<UserChange>,
  changed: (before: StoredUser, after: StoredUser) => string[] = changedFields,
): Promise<AdminUser> {
  if (!USER_ID.test(id)) throw notFound(id);
  const updated = await deps.transaction(async (repos) => {
    const current = await repos.users.lockById(id);
    if (current === undefined) throw notFound(id);
    const after = await repos.users.change(id, await decide(current, repos), deps.now());
    if (after === undefined) throw notFound(id);
    const fields = changed(current, after);
    if (fields.length > 0) await repos.audit.record({ action, context, changedFields: fields, details: details(after) });
    return after;
  });
  return adminUser(updated);
}

/**
 * PATCH (RFC 7396): the patch is merged into the username and claims; `null` removes a claim
 * (a verified flag becomes false). The password has its own operation, and so has `disabled`.
 */
export function patchUser(deps: UserDeps, id: string, patch: unknown, context: ChangeContext): Promise<AdminUser> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw invalidRequest('a merge patch of a user must be a JSON object');
  const fields = patch as Record<string, unknown>;
  if ('password' in fields) throw invalidRequest('password is set with POST /admin/users/{id}/set-password, not in a patch');
  const readOnly = Object.keys(fields).filter((name) => READ_ONLY_FIELDS.includes(name));
  if (readOnly.length > 0) throw invalidRequest(`${readOnly.join(', ')} cannot be patched (disabled has /disable and /enable)`);
  refuseUnknown(fields, ['username']);
  // merged recursively below: no deeper than an address can be
  if (nestedTooDeep(patch)) throw invalidRequest('the merge patch is nested deeper than any claim');
  return changeUser(deps, id, 'user.update', context, async (current, repos) => {
    const merged = mergePatch({ username: current.username, ...claimsOf(current) }, fields) as Record<string, unknown>;
    const username = checkUsername(merged.username);
    if (username !== current.username && !(await repos.users.holdUsername(username, id))) throw usernameTaken(username);
    return { username, ...storedClaims(checkClaims(merged, ['username'])) };
  });
}

export function setUserDisabled(deps: UserDeps, id: string, disabled: boolean, context: ChangeContext): Promise<AdminUser> {
  return changeUser(deps, id, disabled ? 'user.disable' : 'user.enable', context, async (_current, repos) => {
    // signed out everywhere at once (sessions also check the flag on use)
    if (disabled) await repos.sessions.deleteForUser(id);
    return { disabled };
  }, (before, after) =>
    before.disabled !== after.disabled ? ['disabled'] : [],
  );
}

/** A new password, hashed with today's parameters; the body is {"password": ...}. */
export async function setUserPassword(deps: UserDeps, id: string, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<AdminUser> {
  if (!USER_ID.test(id)) throw notFound(id);
  const unknown = Object.keys(body).filter((name) => name !== 'password');
  if (unknown.length > 0) throw invalidRequest(`unknown field ${unknown.join(', ')} (the body is {"password": ...})`);
  if (!('password' in body)) throw invalidRequest('password is required (the body is {"password": ...})');
  const passwordHash = await hashPassword(checkPassword(body.password));
  // whoever signed in with the old password (perhaps not the owner) is signed out with it
  return changeUser(deps, id, 'user.set_password', context, async (_current, repos) => {
    await repos.sessions.deleteForUser(id);
    return { passwordHash };
  }, () => ['password']);
}

export async function deleteUser(deps: UserDeps, id: string, context: ChangeContext): Promise<void> {
  if (!USER_ID.test(id)) throw notFound(id);
  await deps.transaction(async (repos) => {
    const user = await repos.users.lockById(id);
    if (user === undefined || !(await repos.users.delete(id))) throw notFound(id);
    await repos.audit.record({ action: 'user.delete', context, details: details(user) });
  });
}

const encodeCursor = (position: UserListPosition) => Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');

function decodeCursor(cursor: string): UserListPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string' && USER_ID.test(id)) return { createdAt: createdAt as number, id };
  } catch {
    // refused below
  }
  throw invalidRequest('cursor is not one this server handed out (next_cursor of a previous page)');
}

/** GET /admin/users: one page, newest first; `q` searches username, e-mail and name. */
export async function listUsers(deps: UserDeps, parameters: Readonly<Record<string, string | readonly string[] | undefined>>): Promise<UserPage> {
  const query = queryParameters(parameters, ['limit', 'cursor', 'q', 'disabled']);
  const limit = pageLimit(query.limit);
  if (query.q !== undefined && (query.q.length > 200 || UNSTORABLE.test(query.q))) throw invalidRequest('q must be at most 200 characters of text');
  if (query.disabled !== undefined && query.disabled !== 'true' && query.disabled !== 'false') throw invalidRequest('disabled must be true or false');
  const filter: UserFilter = {};
  if (query.q !== undefined && query.q !== '') filter.text = query.q;
  if (query.disabled !== undefined) filter.disabled = query.disabled === 'true';
  // one row more than asked: whether a next page exists, without a count
  const rows = await deps.users.list(filter, query.cursor === undefined ? undefined : decodeCursor(query.cursor), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { users: page.map(adminUser), next_cursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}
