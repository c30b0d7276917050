import type { ChangeContext } from '../audit/audit.js';
import { OAuthError } from '../http/oauth-error.js';
import type { ConsentRepository } from '../storage/authorization-repository.js';
import type { InTransaction } from '../storage/transaction.js';
import type { UserRepository } from '../storage/user-repository.js';

export interface ConsentDeps {
  users: Pick<UserRepository, 'findById'>;
  consents: Pick<ConsentRepository, 'listForUser'>;
  transaction: InTransaction;
  now: () => number;
}

/** The admin representation of one consent. */
export interface AdminConsent {
  client_id: string;
  /** The scopes granted, space-separated. */
  scope: string;
  /** Claims granted beyond the scopes (a claims request), space-separated; absent when none. */
  claims?: string;
  granted_at: number;
}

const USER_ID = /^[0-9a-f]{32}$/;
const CLIENT_ID = /^[A-Za-z0-9_-]{16,128}$/;
const userNotFound = (id: string) => new OAuthError('not_found', `no user ${id.slice(0, 64)}`);

/** The consent a user gave, per client, newest first. */
export async function listConsents(deps: ConsentDeps, userId: string): Promise<{ consents: AdminConsent[] }> {
  if (!USER_ID.test(userId) || !(await deps.users.findById(userId))) throw userNotFound(userId);
  const consents = await deps.consents.listForUser(userId);
  return { consents: consents.map((c) => ({ client_id: c.clientId, scope: c.scope, ...(c.claims ? { claims: c.claims } : {}), granted_at: c.grantedAt })) };
}

/**
 * Revokes the consent a user gave a client, with its audit entry: the client's next authorization
 * request for this user shows the consent page again. The refresh tokens the user's consent let
 * the client hold are revoked with it (their whole families, with the access tokens those issued);
 * access tokens from code exchanges without a refresh token run out on their own.
 */
export async function revokeConsent(deps: ConsentDeps, userId: string, clientId: string, context: ChangeContext): Promise<void> {
  if (!USER_ID.test(userId)) throw userNotFound(userId);
  await deps.transaction(async (repos) => {
    const user = await repos.users.findById(userId);
    if (!user) throw userNotFound(userId);
    if (!CLIENT_ID.test(clientId) || !(await repos.consents.revoke(userId, clientId))) {
      throw new OAuthError('not_found', `user ${userId} has given no consent to client ${clientId.slice(0, 64)}`);
    }
    const refreshTokenFamilies = await repos.refreshTokens.revokeForUserAndClient(userId, clientId, deps.now());
    await repos.audit.record({ action: 'user.revoke_consent', context, details: { user_id: userId, username: user.username, client_id: clientId, refresh_token_families: refreshTokenFamilies } });
  });
}
