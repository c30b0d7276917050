import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireBearerToken } from '../http/bearer.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { formParams, registerFormBody } from '../http/form-body.js';
import { insufficientScope, invalidRequest, invalidToken } from '../http/oauth-error.js';
import type { StoredUser } from '../storage/user-repository.js';
import { claimsByName, claimsForScope } from '../users/scope-claims.js';
import type { StoredClient } from '../storage/client-repository.js';
import { userIdForSubject, type SubjectDeps } from '../users/subjects.js';
import { verifyAccessToken, type AccessTokenDeps } from './access-tokens.js';
import type { ResponseEncryptionDeps } from './response-encryption.js';
import { userInfoJwt } from './userinfo-jwt.js';

export interface UserInfoDeps {
  tokens: AccessTokenDeps;
  findUser: (id: string) => Promise<StoredUser | undefined>;
  /** For clients that registered userinfo_encrypted_response_alg. */
  encryption: ResponseEncryptionDeps;
  /** The way from the token's sub (pairwise for some clients) back to the user. */
  subjects: SubjectDeps;
}

/**
 * The UserInfo endpoint (OpenID Connect Core §5.3): an access token from the authorization code
 * flow with scope `openid` (RFC 6750 bearer), answered with the user's claims for the token's
 * scope and those its authorization request asked for in `claims.userinfo`. A token of a client
 * (client_credentials), of a user who is gone or disabled, or of a client no longer usable is
 * invalid_token; one without `openid` is insufficient_scope. With the claims comes the token's
 * client, whose registration says how they are answered.
 */
export async function userInfo(deps: UserInfoDeps, token: string): Promise<{ claims: Record<string, unknown>; client: StoredClient }> {
  const verified = await verifyAccessToken(deps.tokens, token);
  if (!verified) throw invalidToken(true, 'unknown, expired or revoked access token');
  // a token made for a resource server (RFC 8707 resource) is that server's, not UserInfo's: one
  // that leaked from it must not read the user's claims here (RFC 8707 §3, RFC 9068 §4)
  const audiences = Array.isArray(verified.claims.aud) ? verified.claims.aud : [verified.claims.aud];
  if (!audiences.includes(deps.tokens.audience)) throw invalidToken(true, 'the token is for another resource (its aud); UserInfo takes tokens issued without resource');
  const scope = (verified.claims.scope ?? '').split(' ');
  if (!scope.includes('openid')) throw insufficientScope('openid');
  // client_credentials tokens name the client as sub: no user has that id
  const userId = verified.claims.sub === verified.claims.client_id ? undefined : await userIdForSubject(deps.subjects, verified.client, verified.claims.sub);
  const user = userId === undefined ? undefined : await deps.findUser(userId);
  if (!user || user.disabled) throw invalidToken(true, 'the token names no user who may sign in');
  // beside the scope's claims, those the authorization request asked for by name (Core §5.5),
  // which the token names (AccessTokenClaims.userinfo_claims); no values, so nothing stale;
  // sub as the client knows the user, the same as in its ID token (OIDC Core §5.3.2)
  const requested = Array.isArray(verified.claims.userinfo_claims) ? verified.claims.userinfo_claims.filter((name) => typeof name === 'string') : [];
  return { claims: { ...claimsForScope(user, scope), ...claimsByName(user, requested), sub: verified.claims.sub }, client: verified.client };
}

/** GET and POST /userinfo; the token in the Authorization header only (RFC 6750 §2.1). */
export function userInfoRoutes(app: FastifyInstance, deps: UserInfoDeps): void {
  app.removeContentTypeParser('application/json');
  registerFormBody(app);
  const answer = async (request: FastifyRequest, reply: FastifyReply) => {
    // RFC 6750 §2.2 (form-encoded body) is not offered: one way to present a token
    if (formParams(request.body).access_token !== undefined) throw invalidRequest('send the access token in the Authorization header (RFC 6750 §2.1)');
    const { claims, client } = await userInfo(deps, requireBearerToken(request.headers.authorization));
    // signed and/or encrypted when the client registered so (OIDC Core §5.3.2)
    const jwt = await userInfoJwt({ keys: deps.tokens.keys, issuer: deps.tokens.issuer, encryption: deps.encryption }, client, claims);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return jwt === undefined ? reply.send(claims) : reply.type('application/jwt').send(jwt);
  };
  app.get(ENDPOINT_PATHS.userinfo, answer);
  app.post(ENDPOINT_PATHS.userinfo, answer);
}
