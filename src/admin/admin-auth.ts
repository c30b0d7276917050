import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireBearerToken } from '../http/bearer.js';
import { insufficientScope, invalidToken } from '../http/oauth-error.js';
import { verifyAccessToken, type AccessTokenDeps } from '../tokens/access-tokens.js';
import { ADMIN_SCOPES, adminAudience } from './scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin client whose token authorised this request (admin routes only). */
    adminClientId: string | null;
  }
}

/**
 * Every route of `scope` needs one of this server's own access tokens (JWT or reference) of an
 * admin client: admin:read to read, admin:write for anything else. A token whose client has
 * since been disabled, expired, deleted or stripped of `admin` no longer works.
 */
export function requireAdminToken(scope: FastifyInstance, tokens: AccessTokenDeps): void {
  scope.decorateRequest('adminClientId', null);
  // onRequest: nothing about the request, its body included, is looked at before the caller is known
  scope.addHook('onRequest', async (request: FastifyRequest) => {
    const found = await verifyAccessToken(tokens, requireBearerToken(request.headers.authorization));
    if (!found) throw invalidToken(true, 'not an active access token of this server');
    if (!found.client.settings.admin) throw invalidToken(true, `client ${found.client.clientId} is not an admin client`);
    const audiences = Array.isArray(found.claims.aud) ? found.claims.aud : [found.claims.aud];
    if (!audiences.includes(adminAudience(tokens.issuer))) throw invalidToken(true, 'the token is not addressed to the admin API');
    const needed = request.method === 'GET' || request.method === 'HEAD' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write;
    if (!(found.claims.scope ?? '').split(' ').includes(needed)) throw insufficientScope(needed);
    request.adminClientId = found.client.clientId;
  });
}
