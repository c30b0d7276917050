import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient, type ClientAuthDeps } from '../client-auth/authenticate-client.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { acceptsOnly } from '../http/error-handler.js';
import { formParams, registerFormBody } from '../http/form-body.js';
import { invalidRequest } from '../http/oauth-error.js';
import type { Metrics } from '../metrics/metrics.js';
import { introspectAccessToken, revokeAccessToken, tokenSettings, type AccessTokenDeps } from './access-tokens.js';
import { authorizationCodeGrant, type AuthorizationCodeGrantDeps } from './authorization-code-grant.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { servedGrantType } from './grants.js';
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
  codes: Omit<AuthorizationCodeGrantDeps, 'tokens'>,
): void {
  // Only form bodies here (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1): JSON is refused with 415.
  app.removeContentTypeParser('application/json');
  registerFormBody(app);
  acceptsOnly(app, 'application/x-www-form-urlencoded');

  const authenticate = (request: FastifyRequest) =>
    authenticateClient(auth, { authorization: request.headers.authorization, params: formParams(request.body) });

  app.post(ENDPOINT_PATHS.token, async (request, reply) => {
    const params = formParams(request.body);
    // Client authentication comes first: a request that fails it is invalid_client whatever else
    // it says. Public clients (none) may only exchange codes, bound to them by PKCE.
    const allowPublicClient = params.grant_type === 'authorization_code';
    const { client, method } = await authenticateClient(auth, { authorization: request.headers.authorization, params, allowPublicClient });
    const grantType = servedGrantType(params);

    const issued = grantType === 'authorization_code'
      ? await authorizationCodeGrant({ ...codes, tokens }, client, params)
      : await clientCredentialsGrant(tokens, client, params);
    request.log.info({ client_id: client.clientId, method, grant_type: grantType, scope: issued.scope }, 'access token issued');
    metrics.tokenIssued(grantType, tokenSettings(tokens, client).format);
    return noStore(reply).send(issued);
  });

  app.post(ENDPOINT_PATHS.introspection, async (request, reply) => {
    const { client } = await authenticate(request);
    const introspection = await introspectAccessToken(tokens, requiredToken(formParams(request.body)), client);
    metrics.tokenIntrospected(introspection.active);
    return noStore(reply).send(introspection);
  });

  app.post(ENDPOINT_PATHS.revocation, async (request, reply) => {
    const { client } = await authenticate(request);
    await revokeAccessToken(tokens, requiredToken(formParams(request.body)), client.clientId);
    metrics.tokenRevoked();
    return noStore(reply).code(200).send();
  });
}

export function jwksRoute(app: FastifyInstance, keys: ServerKeys): void {
  app.get(ENDPOINT_PATHS.jwks, (_request, reply) =>
    reply.header('cache-control', JWKS_CACHE_CONTROL).type('application/jwk-set+json').send(keys.publicJwks()),
  );
}
