import { createHash } from 'node:crypto';
import { hashToken } from '../crypto/token-hash.js';
import { parameterValues } from '../http/form-body.js';
import { OAuthError, invalidRequest } from '../http/oauth-error.js';
import type { AuthorizationRepository, UsedAuthorizationCode } from '../storage/authorization-repository.js';
import type { StoredClient } from '../storage/client-repository.js';
import type { StoredUser } from '../storage/user-repository.js';
import { issueAccessToken, newJti, tokenSettings, type AccessTokenDeps, type IssuedAccessToken } from './access-tokens.js';
import { idTokenFor } from './grant-id-token.js';
import { issuesRefreshToken, startRefreshFamily, type RefreshTokenStore } from './refresh-tokens.js';
import { userinfoClaimsRequested } from './requested-claims.js';
import { audienceOf, narrowedResources } from './resource-indicators.js';
import { encryptResponse, responseEncryption, type ResponseEncryption, type ResponseEncryptionDeps } from './response-encryption.js';
import { subjectFor, type SubjectDeps } from '../users/subjects.js';

export interface AuthorizationCodeGrantDeps {
  tokens: AccessTokenDeps;
  authorizations: AuthorizationRepository;
  refresh: RefreshTokenStore;
  /** The code's user, when it may still sign in (not deleted, not disabled). */
  findUser: (id: string) => Promise<StoredUser | undefined>;
  /** For clients that registered id_token_encrypted_response_alg. */
  encryption: ResponseEncryptionDeps;
  /** The sub the client knows the user by: public or pairwise (OIDC Core §8). */
  subjects: SubjectDeps;
}

export type CodeGrantResponse = IssuedAccessToken & { refresh_token?: string; id_token?: string };

/** Codes are 43 base64url characters; anything else is not one of ours. */
const CODE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

const invalidGrant = (description: string) => new OAuthError('invalid_grant', description);

/** Every binding of the code the token request must match (RFC 6749 §4.1.3, RFC 7636 §4.6). */
function checkBindings(code: UsedAuthorizationCode, client: StoredClient, params: Readonly<Record<string, string>>, now: number): void {
  if (code.clientId !== client.clientId) throw invalidGrant('the code was issued to another client');
  if (now >= code.expiresAt) throw invalidGrant('the code has expired');
  if (code.redirectUriGiven && params.redirect_uri === undefined) throw invalidRequest('redirect_uri is required: the authorization request included it');
  if (params.redirect_uri !== undefined && params.redirect_uri !== code.redirectUri) throw invalidGrant('redirect_uri does not match the one of the authorization request');
  const verifier = params.code_verifier;
  if (code.codeChallenge === null) {
    if (verifier !== undefined) throw invalidGrant('code_verifier sent, but the authorization request had no code_challenge');
    return;
  }
  if (verifier === undefined) throw invalidGrant('code_verifier is required: the authorization request had a code_challenge');
  if (!CODE_VERIFIER.test(verifier)) throw invalidGrant('code_verifier must be 43 to 128 unreserved characters (RFC 7636 §4.1)');
  const computed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
  if (computed !== code.codeChallenge) throw invalidGrant('code_verifier does not match the code_challenge');
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636) and OpenID Connect (Core §3.1.3): a code, used once,
 * for an access token (sub: the user as this client knows it, public or pairwise; aud: the
 * resources asked for, RFC 8707), a refresh token (refresh-tokens.ts says when) and, with scope
 * openid, an ID token. A code used again is refused and what its first use issued is revoked (RFC 6749 §4.1.2, RFC 9700 §4.5).
 */
export async function authorizationCodeGrant(
  deps: AuthorizationCodeGrantDeps,
  client: StoredClient,
  params: Readonly<Record<string, string>>,
): Promise<CodeGrantResponse> {
  if (!((client.metadata.grant_types as string[] | undefined) ?? []).includes('authorization_code')) {
    throw new OAuthError('unauthorized_client', 'the client is not registered for the authorization_code grant');
  }
  const presented = params.code;
  if (presented === undefined) throw invalidRequest('code is required');
  if (!CODE.test(presented)) throw invalidGrant('the code is invalid, expired or already used');
  const { tokens } = deps;
  const now = tokens.now();
  const codeHash = hashToken(presented);

  const found = await deps.authorizations.findCode(codeHash);
  if (!found) throw invalidGrant('the code is invalid, expired or already used');
  const jti = newJti();
  if (found.usedAt === null) {
    checkBindings(found, client, params, now);
    const resources = narrowedResources(parameterValues(params, 'resource'), found.resources);
    // the client's encryption key before the code is spent: if it cannot be had (its jwks_uri is
    // down), the request fails with nothing issued and the code may be tried again while it lives
    const encryption = found.scope.split(' ').includes('openid') ? await responseEncryption(deps.encryption, client, 'id_token') : undefined;
    const accessToken = { jti, expiresAt: now + tokenSettings(tokens, client).lifetimeSeconds };
    // The family starts before the code is used: should a replay win the race below, the replay
    // path already finds the family (by the code) and revokes it; nobody ever sees its token.
    const refreshToken = issuesRefreshToken(client, found.scope.split(' '))
      ? await startRefreshFamily(deps.refresh, found, accessToken, now)
      : undefined;
    if (await deps.authorizations.useCode(codeHash, now, jti, accessToken.expiresAt)) {
      return issueTokens(deps, client, found, { jti, resources, refreshToken, encryption }, now);
    }
  }
  // used before (or by a concurrent request just now): whatever that use issued is revoked
  const used = await deps.authorizations.findCode(codeHash);
  if (used?.accessTokenJti != null && used.accessTokenExpiresAt !== null) {
    await tokens.revocations.revoke(used.accessTokenJti, used.clientId, used.accessTokenExpiresAt);
  }
  await deps.refresh.repository.revokeForCode(codeHash, now);
  throw invalidGrant('the code was already used; the tokens issued with it are revoked');
}

async function issueTokens(
  deps: AuthorizationCodeGrantDeps,
  client: StoredClient,
  code: UsedAuthorizationCode,
  issue: { jti: string; resources: readonly string[]; refreshToken: string | undefined; encryption: ResponseEncryption | undefined },
  now: number,
): Promise<CodeGrantResponse> {
  const { tokens } = deps;
  const user = await deps.findUser(code.userId);
  if (!user || user.disabled) throw invalidGrant('the user the code was issued for can no longer sign in');

  const openid = code.scope.split(' ').includes('openid');
  // the same sub in the access token (so at introspection and UserInfo) as in the ID token
  const subject = await subjectFor(deps.subjects, client, code.userId);
  const audience = audienceOf(issue.resources);
  const issued: CodeGrantResponse = await issueAccessToken(tokens, client, code.scope, {
    subject,
    jti: issue.jti,
    userinfoClaims: openid ? userinfoClaimsRequested(code.claims) : [],
    ...(audience !== undefined ? { audience } : {}),
  });
  if (issue.refreshToken !== undefined) issued.refresh_token = issue.refreshToken;
  if (!openid) return issued;
  const idToken = idTokenFor(tokens, client, code, user, subject, issued.access_token, now);
  // OIDC Core §10.2: signed, then encrypted (a nested JWT)
  return { ...issued, id_token: issue.encryption ? await encryptResponse(issue.encryption, idToken, true) : idToken };
}
