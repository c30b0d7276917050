import { randomBytes } from 'node:crypto';
import type { InitialAccessTokenInfo, InitialAccessTokenState } from '../admin-client/types.js';
import { randomToken } from '../crypto/random.js';
import { hashToken } from '../crypto/token-hash.js';
import { invalidRequest, OAuthError } from '../http/oauth-error.js';
import { unusableReason } from '../registration/registration-access.js';
import { POLICY_NAME } from '../registration/registration-policy.js';
import type { InitialAccessTokenRepository, StoredInitialAccessToken } from '../storage/initial-access-token-repository.js';
import type { ChangeContext } from '../audit/audit.js';
import type { InTransaction } from '../storage/transaction.js';
import { UNSTORABLE } from '../registration/validate-metadata.js';

export interface InitialAccessTokenDeps {
  initialAccessTokens: InitialAccessTokenRepository;
  /** Every change goes through here (so that its audit entry can join it). */
  transaction: InTransaction;
  now: () => number;
}

/** The request fields of POST /admin/initial-access-tokens, with their limits. */
export const MAX_TOKEN_USES = 1_000_000;
export const MAX_TOKEN_LIFETIME = 10 * 365 * 86_400;
export const MAX_DESCRIPTION_LENGTH = 500;
/** The list shows this many, newest first. */
export const MAX_LISTED_TOKENS = 500;

const TOKEN_ID = /^[0-9a-f]{20}$/;

const notFound = (id: string) => new OAuthError('not_found', `no initial access token ${id.slice(0, 64)}`);

function stateOf(token: StoredInitialAccessToken, now: number): InitialAccessTokenState {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'used_up';
  return 'active';
}

export function initialAccessTokenInfo(token: StoredInitialAccessToken, now: number): InitialAccessTokenInfo {
  return {
    id: token.id,
    description: token.description,
    policy: token.policyName,
    max_uses: token.maxUses,
    uses: token.uses,
    uses_left: unusableReason(token, now) !== undefined ? 0 : token.maxUses === null ? null : token.maxUses - token.uses,
    expires_at: token.expiresAt,
    revoked_at: token.revokedAt,
    created_at: token.createdAt,
    state: stateOf(token, now),
  };
}

function optionalInteger(body: Readonly<Record<string, unknown>>, name: string, max: number): number | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) throw invalidRequest(`${name} must be a whole number from 1 to ${max}`);
  return value;
}

export function optionalDescription(body: Readonly<Record<string, unknown>>): string | null {
  const value = body.description;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION_LENGTH || UNSTORABLE.test(value)) {
    throw invalidRequest(`description must be text of at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  return value;
}

const KNOWN_FIELDS = new Set(['description', 'policy', 'max_uses', 'expires_in']);

/** What the audit trail says of a token: its id and limits, never the token or its hash. */
function tokenDetails(token: StoredInitialAccessToken): Record<string, string | number> {
  return {
    initial_access_token_id: token.id,
    ...(token.policyName !== null ? { registration_policy: token.policyName } : {}),
    ...(token.maxUses !== null ? { max_uses: token.maxUses } : {}),
    ...(token.expiresAt !== null ? { expires_at: token.expiresAt } : {}),
  };
}

/**
 * Creates an initial access token (RFC 7591 §3). The token is in this answer only: the server
 * keeps its SHA-256 hash. 256 random bits, so one hash is enough (nothing to brute-force).
 */
export async function createInitialAccessToken(deps: InitialAccessTokenDeps, body: Readonly<Record<string, unknown>>, context: ChangeContext): Promise<InitialAccessTokenInfo & { token: string }> {
  const unknown = Object.keys(body).filter((name) => !KNOWN_FIELDS.has(name));
  if (unknown.length > 0) throw invalidRequest(`unknown field ${unknown.join(', ')} (known: ${[...KNOWN_FIELDS].join(', ')})`);
  const description = optionalDescription(body);
  const maxUses = optionalInteger(body, 'max_uses', MAX_TOKEN_USES);
  const expiresIn = optionalInteger(body, 'expires_in', MAX_TOKEN_LIFETIME);
  const policy = body.policy ?? null;
  if (policy !== null && (typeof policy !== 'string' || !POLICY_NAME.test(policy))) throw invalidRequest('policy must be the name of a registration policy');
  const token = randomToken(256);
  const now = deps.now();
  const stored = await deps.transaction(async (repos) => {
    // held until the token is stored: the policy cannot be deleted in between
    if (policy !== null && !(await repos.policies.holdExisting(policy))) throw invalidRequest(`there is no registration policy ${policy}`);
    const inserted = await repos.initialAccessTokens.insert({
      id: randomBytes(10).toString('hex'),
      tokenHash: hashToken(token),
      description,
      policyName: policy,
      maxUses,
      expiresAt: expiresIn === null ? null : now + expiresIn,
      createdAt: now,
    });
    await repos.audit.record({ action: 'initial_access_token.create', context, details: tokenDetails(inserted), at: now });
    return inserted;
  });
  return { ...initialAccessTokenInfo(stored, now), token };
}

export async function listInitialAccessTokens(deps: InitialAccessTokenDeps): Promise<{ initial_access_tokens: InitialAccessTokenInfo[] }> {
  const now = deps.now();
  return { initial_access_tokens: (await deps.initialAccessTokens.list(MAX_LISTED_TOKENS)).map((token) => initialAccessTokenInfo(token, now)) };
}

export async function getInitialAccessToken(deps: InitialAccessTokenDeps, id: string): Promise<InitialAccessTokenInfo> {
  const token = TOKEN_ID.test(id) ? await deps.initialAccessTokens.findById(id) : undefined;
  if (token === undefined) throw notFound(id);
  return initialAccessTokenInfo(token, deps.now());
}

/** Revokes the token at once, on every instance (each registration reads it). Revoking twice is harmless. */
export async function revokeInitialAccessToken(deps: InitialAccessTokenDeps, id: string, context: ChangeContext): Promise<InitialAccessTokenInfo> {
  if (!TOKEN_ID.test(id)) throw notFound(id);
  const revoked = await deps.transaction(async (repos) => {
    const token = await repos.initialAccessTokens.revoke(id, deps.now());
    if (token !== undefined) await repos.audit.record({ action: 'initial_access_token.revoke', context, details: tokenDetails(token) });
    return token;
  });
  if (revoked === undefined) throw notFound(id);
  return initialAccessTokenInfo(revoked, deps.now());
}
