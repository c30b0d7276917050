import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient, type ClientAuthDeps } from '../client-auth/authenticate-client.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { acceptsOnly } from '../http/error-handler.js';
import { formParams, registerFormBody } from '../http/form-body.js';
import { invalidRequest } from '../http/oauth-error.js';
import type { StaticDocuments } from '../http/static-documents.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StoredClient } from '../storage/client-repository.js';
import { introspectAccessToken, revokeAccessToken, tokenSettings, type AccessTokenDeps } from './access-tokens.js';
import { authorizationCodeGrant, type AuthorizationCodeGrantDeps } from './authorization-code-grant.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { servedGrantType, type TokenEndpointGrantType } from './grants.js';
import { refreshTokenGrant, type RefreshTokenGrantDeps } from './refresh-token-grant.js';
import { introspectRefreshToken, revokeRefreshToken } from './refresh-tokens.js';
import type { ServerKeys } from './server-keys.js';

/** Keys change rarely and are published ahead of use; a short cache keeps rotation prompt. */
const JWKS_CACHE_CONTROL = 'public, max-age=300';

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

function requiredToken(params: Readonly<Record<string, string>>): string {
  if (params.token === undefined || params.token === '') throw invalidRequest('token is required');
  return params.token;
}

/** The token, introspection and revocation endpoints: form bodies, client-authenticated. */
export function tokenRoutes(
  app: FastifyInstance,
  auth: ClientAuthDeps,
  tokens: AccessTokenDeps,
  metrics: Pick<Metrics, 'tokenIssued' | 'tokenIntrospected' | 'tokenRevoked'>,
  /** What the grants of a user's authorization need beside `tokens`: codes, refresh tokens, users. */
  userGrants: Omit<AuthorizationCodeGrantDeps & RefreshTokenGrantDeps, 'tokens'>,
): void {
  // Only form bodies here (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1): JSON is refused with 415.
  app.removeContentTypeParser('application/json');
  registerFormBody(app);
  acceptsOnly(app, 'application/x-www-form-urlencoded');

  const authenticate = (request: FastifyRequest) =>
    authenticateClient(auth, { authorization: request.headers.authorization, params: formParams(request.body) });

  const grants = { ...userGrants, tokens };
  const issue = (grantType: TokenEndpointGrantType, client: StoredClient, params: Readonly<Record<string, string>>) => {
    switch (grantType) {
      case 'authorization_code': return authorizationCodeGrant(grants, client, params);
      case 'refresh_token': return refreshTokenGrant(grants, client, params);
      case 'client_credentials': return clientCredentialsGrant(tokens, client, params);
    }
  };

  app.post(ENDPOINT_PATHS.token, async (request, reply) => {
    const params = formParams(request.body);
    // Client authentication comes first: a request that fails it is invalid_client whatever else
    // it says. Public clients (none) may only exchange codes, bound to them by PKCE, and refresh
    // tokens, which rotate on every use (RFC 9700 §4.14.2).
    const allowPublicClient = params.grant_type === 'authorization_code' || params.grant_type === 'refresh_token';
    const { client, method } = await authenticateClient(auth, { authorization: request.headers.authorization, params, allowPublicClient });
    const grantType = servedGrantType(params);

    const issued = await issue(grantType, client, params);
    request.log.info({ client_id: client.clientId, method, grant_type: grantType, scope: issued.scope }, 'access token issued');
    metrics.tokenIssued(grantType, tokenSettings(tokens, client).format);
    return noStore(reply).send(issued);
  });

  // RFC 7662 §2.1 / RFC 7009 §2.1: token_type_hint says where to look first, not where alone.
  const accessTokenFirst = (params: Readonly<Record<string, string>>) => params.token_type_hint === 'access_token';

  app.post(ENDPOINT_PATHS.introspection, async (request, reply) => {
    const { client } = await authenticate(request);
    const params = formParams(request.body);
    const token = requiredToken(params);
    const asRefreshToken = () => introspectRefreshToken(grants, token, client);
    const asAccessToken = () => introspectAccessToken(tokens, token, client);
    const lookUp = async () => {
      if (!accessTokenFirst(params)) return (await asRefreshToken()) ?? asAccessToken();
      const access = await asAccessToken();
      return access.active ? access : ((await asRefreshToken()) ?? access);
    };
    const introspection = await lookUp();
    metrics.tokenIntrospected(introspection.active);
    return noStore(reply).send(introspection);
  });

  app.post(ENDPOINT_PATHS.revocation, async (request, reply) => {
    const { client } = await authenticate(request);
    const params = formParams(request.body);
    const token = requiredToken(params);
    const asRefreshToken = () => revokeRefreshToken(grants.refresh, token, client.clientId, tokens.now());
    const asAccessToken = () => revokeAccessToken(tokens, token, client.clientId);
    // each answers whether the token was one of its kind; the first that knows it is enough
    for (const attempt of accessTokenFirst(params) ? [asAccessToken, asRefreshToken] : [asRefreshToken, asAccessToken]) {
      if (await attempt()) break;
    }
    metrics.tokenRevoked();
    return noStore(reply).code(200).send();
  });
}

export function jwksRoute(app: FastifyInstance, documents: StaticDocuments, path: string, keys: ServerKeys): void {
  documents.route(app, path, { cacheControl: JWKS_CACHE_CONTROL, contentType: 'application/jwk-set+json', body: () => keys.publicJwksBody() });
}
