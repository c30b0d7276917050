import { hashToken } from '../crypto/token-hash.js';
import { parameterValues } from '../http/form-body.js';
import { OAuthError, invalidRequest } from '../http/oauth-error.js';
import type { StoredClient } from '../storage/client-repository.js';
import type { FoundRefreshToken } from '../storage/refresh-token-repository.js';
import type { StoredUser } from '../storage/user-repository.js';
import { subjectFor, type SubjectDeps } from '../users/subjects.js';
import { issueAccessToken, newJti, tokenSettings, type AccessTokenDeps, type IssuedAccessToken } from './access-tokens.js';
import { idTokenFor } from './grant-id-token.js';
import { findRefreshToken, newRefreshToken, refreshTokenUnusable, type RefreshTokenStore } from './refresh-tokens.js';
import { userinfoClaimsRequested } from './requested-claims.js';
import { audienceOf, narrowedResources } from './resource-indicators.js';
import { encryptResponse, responseEncryption, type ResponseEncryptionDeps } from './response-encryption.js';

export interface RefreshTokenGrantDeps {
  tokens: AccessTokenDeps;
  refresh: RefreshTokenStore;
  /** The family's user, when they may still sign in (not deleted, not disabled). */
  findUser: (id: string) => Promise<StoredUser | undefined>;
  /** For clients that registered id_token_encrypted_response_alg. */
  encryption: ResponseEncryptionDeps;
  /** The sub the client knows the user by: public or pairwise (OIDC Core §8). */
  subjects: SubjectDeps;
}

export type RefreshTokenResponse = IssuedAccessToken & { refresh_token: string; id_token?: string };

const invalidGrant = (description: string) => new OAuthError('invalid_grant', description);
const UNKNOWN = 'the refresh token is invalid, expired or revoked';

/** RFC 6749 §6: the scope asked for, within the scope originally granted; none asked: all of it. */
function narrowedScope(params: Readonly<Record<string, string>>, granted: string): string {
  if (params.scope === undefined) return granted;
  const requested = [...new Set(params.scope.split(' ').filter((s) => s !== ''))];
  if (requested.length === 0) throw new OAuthError('invalid_scope', 'scope is empty');
  const grantedScopes = granted.split(' ');
  const refused = requested.filter((s) => !grantedScopes.includes(s));
  if (refused.length > 0) throw new OAuthError('invalid_scope', `scope ${refused.join(' ').slice(0, 100)} was not granted with this refresh token; ask for some of: ${granted}`);
  return requested.join(' ');
}

/**
 * A refresh token used again after it was rotated (RFC 9700 §4.14.2): either the client or an
 * attacker holds a stolen copy, and nobody can tell which. The whole family is revoked, with the
 * access tokens it issued; the newest refresh token stops working too.
 */
async function refuseReuse(deps: RefreshTokenGrantDeps, found: FoundRefreshToken, now: number): Promise<never> {
  await deps.refresh.repository.revokeFamily(found.family.id, now);
  throw invalidGrant('the refresh token was already used; every token issued with it is revoked');
}

/**
 * RFC 6749 §6 with rotation (RFC 9700 §4.14.2) and OpenID Connect Core §12: a refresh token of
 * this client, used once, for a new access token (scope and resources within those granted), the
 * next refresh token and, with scope openid, a new ID token of the same sign-in (no nonce).
 */
export async function refreshTokenGrant(deps: RefreshTokenGrantDeps, client: StoredClient, params: Readonly<Record<string, string>>): Promise<RefreshTokenResponse> {
  if (!((client.metadata.grant_types as string[] | undefined) ?? []).includes('refresh_token')) {
    throw new OAuthError('unauthorized_client', 'the client is not registered for the refresh_token grant');
  }
  const presented = params.refresh_token;
  if (presented === undefined) throw invalidRequest('refresh_token is required');
  const { tokens } = deps;
  const now = tokens.now();
  const found = await findRefreshToken(deps.refresh, presented);
  if (!found) throw invalidGrant(UNKNOWN);
  // not used up when another client presents it: the token is bound to its client (RFC 6749 §6)
  if (found.family.clientId !== client.clientId) throw invalidGrant('the refresh token was issued to another client');
  const unusable = refreshTokenUnusable(found, now);
  if (unusable === 'used') return refuseReuse(deps, found, now);
  if (unusable !== undefined) throw invalidGrant(UNKNOWN);

  const scope = narrowedScope(params, found.family.scope);
  const resources = narrowedResources(parameterValues(params, 'resource'), found.family.resources);
  const user = await deps.findUser(found.family.userId);
  if (!user || user.disabled) throw invalidGrant('the user the refresh token was issued for can no longer sign in');

  const openid = scope.split(' ').includes('openid');
  // the client's encryption key before the token is used up: if it cannot be had (its jwks_uri is
  // down), nothing is issued and the same refresh token may be tried again
  const encryption = openid ? await responseEncryption(deps.encryption, client, 'id_token') : undefined;
  const jti = newJti();
  const accessToken = { jti, expiresAt: now + tokenSettings(tokens, client).lifetimeSeconds };
  const next = newRefreshToken(deps.refresh, found.family.expiresAt, accessToken, now);
  if (!(await deps.refresh.repository.rotate(hashToken(presented), found.family.id, next.issued, now))) {
    // a concurrent use won (this is then a reuse), or the family was revoked or ended meanwhile
    const again = await deps.refresh.repository.find(hashToken(presented));
    if (again && refreshTokenUnusable(again, tokens.now()) === 'used') return refuseReuse(deps, again, now);
    throw invalidGrant(UNKNOWN);
  }

  const audience = audienceOf(resources);
  const subject = await subjectFor(deps.subjects, client, found.family.userId);
  const issued = await issueAccessToken(tokens, client, scope, {
    subject,
    jti,
    userinfoClaims: openid ? userinfoClaimsRequested(found.family.claims) : [],
    ...(audience !== undefined ? { audience } : {}),
  });
  const response: RefreshTokenResponse = { ...issued, refresh_token: next.token };
  if (!openid) return response;
  // OIDC Core §12.2: the same sign-in as the original ID token, and no nonce
  const idToken = idTokenFor(tokens, client, { ...found.family, nonce: null }, user, subject, issued.access_token, now);
  return { ...response, id_token: encryption ? await encryptResponse(encryption, idToken, true) : idToken };
}
