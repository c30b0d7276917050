import { createHash } from 'node:crypto';
import type { ServerSigningAlg } from '../config/config.js';
import { hashToken } from '../crypto/token-hash.js';
import { OAuthError, invalidRequest } from '../http/oauth-error.js';
import type { AuthorizationRepository, UsedAuthorizationCode } from '../storage/authorization-repository.js';
import type { StoredClient } from '../storage/client-repository.js';
import { issueAccessToken, newJti, tokenSettings, type AccessTokenDeps, type IssuedAccessToken } from './access-tokens.js';
import { signIdToken } from './id-token.js';
import { subjectFor, type SubjectDeps } from '../users/subjects.js';

export interface AuthorizationCodeGrantDeps {
  tokens: AccessTokenDeps;
  authorizations: AuthorizationRepository;
  /** The code's user, when it may still sign in (not deleted, not disabled). */
  findUser: (id: string) => Promise<{ id: string; disabled: boolean } | undefined>;
  /** The sub the client knows the user by: public or pairwise (OIDC Core §8). */
  subjects: SubjectDeps;
}

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
 * for an access token (sub: the user as this client knows it, public or pairwise) and, with scope
 * openid, an ID token. A code used again is refused and what its first use issued is revoked
 * (RFC 6749 §4.1.2, RFC 9700 §4.5).
 */
export async function authorizationCodeGrant(
  deps: AuthorizationCodeGrantDeps,
  client: StoredClient,
  params: Readonly<Record<string, string>>,
): Promise<IssuedAccessToken & { id_token?: string }> {
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
    if (await deps.authorizations.useCode(codeHash, now, jti, now + tokenSettings(tokens, client).lifetimeSeconds)) {
      return issueTokens(deps, client, found, jti, now);
    }
  }
  // used before (or by a concurrent request just now): whatever that use issued is revoked
  const used = await deps.authorizations.findCode(codeHash);
  if (used?.accessTokenJti != null && used.accessTokenExpiresAt !== null) {
    await tokens.revocations.revoke(used.accessTokenJti, used.clientId, used.accessTokenExpiresAt);
  }
  throw invalidGrant('the code was already used; the tokens issued with it are revoked');
}

async function issueTokens(
  deps: AuthorizationCodeGrantDeps,
  client: StoredClient,
  code: UsedAuthorizationCode,
  jti: string,
  now: number,
): Promise<IssuedAccessToken & { id_token?: string }> {
  const { tokens } = deps;
  const user = await deps.findUser(code.userId);
  if (!user || user.disabled) throw invalidGrant('the user the code was issued for can no longer sign in');

  // the same sub in the access token (so at introspection and UserInfo) as in the ID token
  const subject = await subjectFor(deps.subjects, client, code.userId);
  const issued = await issueAccessToken(tokens, client, code.scope, { subject, jti });
  if (!code.scope.split(' ').includes('openid')) return issued;
  const idToken = signIdToken(tokens.keys, {
    issuer: tokens.issuer,
    subject,
    clientId: client.clientId,
    alg: ((client.metadata.id_token_signed_response_alg as string | undefined) ?? 'RS256') as ServerSigningAlg,
    authTime: code.authTime,
    includeAuthTime: code.authTimeRequired,
    nonce: code.nonce,
    amr: code.amr,
    sid: code.sid,
    accessToken: issued.access_token,
    now,
  });
  return { ...issued, id_token: idToken };
}
