import type { RegistrationPolicyInfo } from '../admin-client/types.js';
import { invalidRequest, OAuthError } from '../http/oauth-error.js';
import { parsePolicyRules, POLICY_NAME } from '../registration/registration-policy.js';
import type { RegistrationPolicyRepository, StoredPolicy } from '../storage/registration-policy-repository.js';
import type { ChangeContext } from '../audit/audit.js';
import type { InTransaction } from '../storage/transaction.js';
import { optionalDescription } from './initial-access-tokens.js';

export interface PolicyDeps {
  policies: RegistrationPolicyRepository;
  /** Every change goes through here (so that its audit entry can join it). */
  transaction: InTransaction;
  now: () => number;
}

const notFound = (name: string) => new OAuthError('not_found', `no registration policy ${name.slice(0, 64)}`);

export function policyInfo(policy: StoredPolicy): RegistrationPolicyInfo {
  return {
    name: policy.name,
    description: policy.description,
    rules: policy.rules as Record<string, unknown>,
    is_default: policy.isDefault,
    created_at: policy.createdAt,
    updated_at: policy.updatedAt,
  };
}

const KNOWN_FIELDS = new Set(['name', 'description', 'rules', 'is_default', 'created_at', 'updated_at']);
/** Shown in a representation, so a read one can be sent back; the server alone writes them. */
const READ_ONLY = ['is_default', 'created_at', 'updated_at'];

function parseBody(body: Readonly<Record<string, unknown>>) {
  const unknown = Object.keys(body).filter((name) => !KNOWN_FIELDS.has(name));
  if (unknown.length > 0) throw invalidRequest(`unknown field ${unknown.join(', ')} (known: name, description, rules; ${READ_ONLY.join(', ')} are ignored)`);
  if (!('rules' in body)) throw invalidRequest('rules is required (an empty object for a policy that restricts nothing)');
  return { description: optionalDescription(body), rules: parsePolicyRules(body.rules) };
}

/** Names of the rules (and `description`) that differ: what a policy change records, never the values. */
function changedPolicyFields(before: StoredPolicy | undefined, after: StoredPolicy): string[] {
  const was = (before?.rules ?? {}) as Record<string, unknown>;
  const is = after.rules as Record<string, unknown>;
  const rules = [...new Set([...Object.keys(was), ...Object.keys(is)])].filter((rule) => JSON.stringify(was[rule]) !== JSON.stringify(is[rule]));
  return [...(before?.description !== after.description && (before !== undefined || after.description !== null) ? ['description'] : []), ...rules.sort()];
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !POLICY_NAME.test(name)) {
    throw invalidRequest('name must be 1 to 63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  return name;
}

export async function listPolicies(deps: PolicyDeps): Promise<{ policies: RegistrationPolicyInfo[] }> {
  return { policies: (await deps.policies.list()).map(policyInfo) };
}

export async function getPolicy(deps: PolicyDeps, name: string): Promise<RegistrationPolicyInfo> {
  const policy = POLICY_NAME.test(name) ? await deps.policies.findByName(name) : undefined;
  if (policy === undefined) throw notFound(name);
  return policyInfo(policy);
}

export async function createPolicy(deps: PolicyDeps, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<RegistrationPolicyInfo> {
  const name = checkName(body.name);
  const { description, rules } = parseBody(body);
  const now = deps.now();
  const created = await deps.transaction(async (repos) => {
    const inserted = await repos.policies.insert({ name, description, rules, createdAt: now, updatedAt: now });
    if (inserted !== undefined) {
      await repos.audit.record({ action: 'policy.create', context, changedFields: changedPolicyFields(undefined, inserted), details: { registration_policy: name }, at: now });
    }
    return inserted;
  });
  if (created === undefined) throw new OAuthError('conflict', `a registration policy named ${name} exists already; replace it with PUT`);
  return policyInfo(created);
}

/** PUT: the rules and description are replaced; the next registration (on any instance) reads them. */
export async function replacePolicy(deps: PolicyDeps, name: string, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<RegistrationPolicyInfo> {
  if (!POLICY_NAME.test(name)) throw notFound(name);
  if (body.name !== undefined && body.name !== name) throw invalidRequest('name in the body differs from the policy being replaced (policies are not renamed)');
  const { description, rules } = parseBody(body);
  const replaced = await deps.transaction(async (repos) => {
    // locked, so the names of what changed are those of this replacement
    const before = await repos.policies.lockForRegistration(name);
    if (before === undefined) return undefined;
    const after = await repos.policies.replace(name, description, rules, deps.now());
    if (after !== undefined) {
      await repos.audit.record({ action: 'policy.update', context, changedFields: changedPolicyFields(before, after), details: { registration_policy: name } });
    }
    return after;
  });
  if (replaced === undefined) throw notFound(name);
  return policyInfo(replaced);
}

/**
 * Refused while a token that is not revoked or a client registered under the policy refers to it:
 * the token would silently fall back to the default, the client's updates to no policy at all.
 */
export async function deletePolicy(deps: PolicyDeps, name: string, context: ChangeContext): Promise<void> {
  if (!POLICY_NAME.test(name)) throw notFound(name);
  await deps.transaction(async (repos) => {
    const policy = await repos.policies.lockForRegistration(name);
    if (policy === undefined) throw notFound(name);
    const tokens = await repos.initialAccessTokens.activeWithPolicy(name);
    if (tokens.length > 0) throw new OAuthError('conflict', `registration policy ${name} is used by initial access tokens ${tokens.join(', ')}; revoke them first`);
    const clients = await repos.clients.countByPolicy(name);
    if (clients > 0) throw new OAuthError('conflict', `registration policy ${name} governs ${clients} registered client(s); change its rules instead`);
    await repos.policies.delete(name);
    await repos.audit.record({ action: 'policy.delete', context, details: { registration_policy: name } });
  });
}

export async function setDefaultPolicy(deps: PolicyDeps, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<RegistrationPolicyInfo> {
  const unknown = Object.keys(body).filter((field) => field !== 'name');
  if (unknown.length > 0) throw invalidRequest(`unknown field ${unknown.join(', ')} (the body is {"name": ...})`);
  const name = checkName(body.name);
  const policy = await deps.transaction(async (repos) => {
    const chosen = await repos.policies.setDefault(name);
    if (chosen !== undefined) await repos.audit.record({ action: 'policy.set_default', context, details: { registration_policy: name } });
    return chosen;
  });
  if (policy === undefined) throw invalidRequest(`there is no registration policy ${name}`);
  return policyInfo(policy);
}

export async function clearDefaultPolicy(deps: PolicyDeps, context: ChangeContext): Promise<void> {
  await deps.transaction(async (repos) => {
    await repos.policies.clearDefault();
    await repos.audit.record({ action: 'policy.clear_default', context });
  });
}
