import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireBearerToken } from '../http/bearer.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { formParams, registerFormBody } from '../http/form-body.js';
import { insufficientScope, invalidRequest, invalidToken } from '../http/oauth-error.js';
import type { StoredUser } from '../storage/user-repository.js';
import { claimsForScope } from '../users/scope-claims.js';
import { userIdForSubject, type SubjectDeps } from '../users/subjects.js';
import { verifyAccessToken, type AccessTokenDeps } from './access-tokens.js';

export interface UserInfoDeps {
  tokens: AccessTokenDeps;
  findUser: (id: string) => Promise<StoredUser | undefined>;
  /** The way from the token's sub (pairwise for some clients) back to the user. */
  subjects: SubjectDeps;
}

/**
 * The UserInfo endpoint (OpenID Connect Core §5.3): an access token from the authorization code
 * flow with scope `openid` (RFC 6750 bearer), answered with the user's claims for the token's
 * scope. A token of a client (client_credentials), of a user who is gone or disabled, or of a
 * client no longer usable is invalid_token; one without `openid` is insufficient_scope.
 */
export async function userInfo(deps: UserInfoDeps, token: string): Promise<Record<string, unknown>> {
  const verified = await verifyAccessToken(deps.tokens, token);
  if (!verified) throw invalidToken(true, 'unknown, expired or revoked access token');
  const scope = (verified.claims.scope ?? '').split(' ');
  if (!scope.includes('openid')) throw insufficientScope('openid');
  // client_credentials tokens name the client as sub: no user has that id
  const userId = verified.claims.sub === verified.claims.client_id ? undefined : await userIdForSubject(deps.subjects, verified.client, verified.claims.sub);
  const user = userId === undefined ? undefined : await deps.findUser(userId);
  if (!user || user.disabled) throw invalidToken(true, 'the token names no user who may sign in');
  // sub as the client knows the user, the same as in its ID token (OIDC Core §5.3.2)
  return { ...claimsForScope(user, scope), sub: verified.claims.sub };
}

/** GET and POST /userinfo; the token in the Authorization header only (RFC 6750 §2.1). */
export function userInfoRoutes(app: FastifyInstance, deps: UserInfoDeps): void {
  app.removeContentTypeParser('application/json');
  registerFormBody(app);
  const answer = async (request: FastifyRequest, reply: FastifyReply) => {
    // RFC 6750 §2.2 (form-encoded body) is not offered: one way to present a token
    if (formParams(request.body).access_token !== undefined) throw invalidRequest('send the access token in the Authorization header (RFC 6750 §2.1)');
    const claims = await userInfo(deps, requireBearerToken(request.headers.authorization));
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(claims);
  };
  app.get(ENDPOINT_PATHS.userinfo, answer);
  app.post(ENDPOINT_PATHS.userinfo, answer);
}
