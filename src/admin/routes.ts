import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeContext } from '../audit/audit.js';
import { changeContext } from '../http/change-context.js';
import { acceptsOnly } from '../http/error-handler.js';
import type { ServerKeyRepository } from '../storage/server-key-repository.js';
import type { AccessTokenDeps } from '../tokens/access-tokens.js';
import type { ServerKeys } from '../tokens/server-keys.js';
import { requireAdminToken } from './admin-auth.js';
import {
  createClient,
  deleteClient,
  getClient,
  listClients,
  patchClient,
  replaceClient,
  rotateRegistrationToken,
  rotateSecret,
  setDisabled,
  type AdminDeps,
} from './clients.js';
import { algorithmsToRotate, listKeys, rotateKeys } from './keys.js';
import { listAudit } from './audit.js';
import { createInitialAccessToken, getInitialAccessToken, listInitialAccessTokens, revokeInitialAccessToken, type InitialAccessTokenDeps } from './initial-access-tokens.js';
import { clearDefaultPolicy, createPolicy, deletePolicy, getPolicy, listPolicies, replacePolicy, setDefaultPolicy, type PolicyDeps } from './policies.js';
import { invalidRequest } from '../http/oauth-error.js';
import { listConsents, revokeConsent, type ConsentDeps } from './consents.js';
import { createUser, deleteUser, getUser, listUsers, patchUser, setUserDisabled, setUserPassword, type UserDeps } from './users.js';
import type { Metrics } from '../metrics/metrics.js';

/** Where the admin API lives under the issuer. */
export const ADMIN_PATH = '/admin';

/** Actions take no body, or an optional one: an empty JSON body is no body. */
const OPTIONAL_BODY = { config: { bodyOptional: true } };

interface ClientParams {
  clientId: string;
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** The admin client whose token authorised the request (requireAdminToken set it), acting from the request's address. */
const adminContext = (request: FastifyRequest): ChangeContext => changeContext(request, { type: 'admin', id: request.adminClientId });

const isMergePatch = (request: FastifyRequest) => /^application\/merge-patch\+json\b/i.test(request.headers['content-type'] ?? '');
const mergePatchOnly = (reply: FastifyReply) =>
  noStore(reply).code(415).send({ error: 'unsupported_media_type', error_description: 'the request body must be sent as application/merge-patch+json' });

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidRequest('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The admin API (config API): thin routes over the service functions of clients.ts and keys.ts. */
export function adminRoutes(
  app: FastifyInstance,
  deps: AdminDeps,
  tokens: AccessTokenDeps,
  keys: { serverKeys: ServerKeys; repository: ServerKeyRepository },
  metrics: Pick<Metrics, 'registrationCompleted'>,
  control: InitialAccessTokenDeps & PolicyDeps,
  userDeps: UserDeps,
  consentDeps: ConsentDeps,
): void {
  requireAdminToken(app, tokens, (entry) => deps.audit.record(entry));
  acceptsOnly(app, 'application/json');
  // RFC 7396 patches are JSON documents of their own media type
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  // actions take no body; an empty JSON body is no body
  const optionalBody = (body: unknown): Record<string, unknown> => (body === undefined || body === null ? {} : objectBody(body));

  const clients = `${ADMIN_PATH}/clients`;
  const client = `${clients}/:clientId`;

  app.get<{ Querystring: Record<string, string | string[]> }>(clients, async (request, reply) => noStore(reply).send(await listClients(deps, request.query)));

  app.post(clients, async (request, reply) => {
    const created = await createClient(deps, objectBody(request.body), adminContext(request));
    request.log.info({ client_id: created.client_id, admin_client_id: request.adminClientId }, 'client created by an operator');
    metrics.registrationCompleted('admin');
    return noStore(reply).code(201).header('location', `${deps.issuer}${clients}/${created.client_id}`).send(created);
  });

  app.get<{ Params: ClientParams }>(client, async (request, reply) => noStore(reply).send(await getClient(deps, request.params.clientId)));

  app.put<{ Params: ClientParams }>(client, async (request, reply) => {
    const updated = await replaceClient(deps, request.params.clientId, objectBody(request.body), adminContext(request));
    request.log.info({ client_id: updated.client_id, admin_client_id: request.adminClientId }, 'client replaced by an operator');
    return noStore(reply).send(updated);
  });

  app.patch<{ Params: ClientParams }>(client, { config: { accepts: 'application/merge-patch+json' } }, async (request, reply) => {
    if (!isMergePatch(request)) return mergePatchOnly(reply);
    const updated = await patchClient(deps, request.params.clientId, request.body, adminContext(request));
    request.log.info({ client_id: updated.client_id, admin_client_id: request.adminClientId }, 'client patched by an operator');
    return noStore(reply).send(updated);
  });

  app.delete<{ Params: ClientParams }>(client, async (request, reply) => {
    await deleteClient(deps, request.params.clientId, adminContext(request));
    request.log.info({ client_id: request.params.clientId, admin_client_id: request.adminClientId }, 'client deleted by an operator');
    return noStore(reply).code(204).send();
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post<{ Params: ClientParams }>(`${client}/${action}`, OPTIONAL_BODY, async (request, reply) => {
      optionalBody(request.body);
      const updated = await setDisabled(deps, request.params.clientId, disabled, adminContext(request));
      request.log.info({ client_id: updated.client_id, admin_client_id: request.adminClientId }, `client ${action}d by an operator`);
      return noStore(reply).send(updated);
    });
  }

  app.post<{ Params: ClientParams }>(`${client}/rotate-secret`, OPTIONAL_BODY, async (request, reply) => {
    const grace = optionalBody(request.body).grace_period ?? 0;
    const rotated = await rotateSecret(deps, request.params.clientId, typeof grace === 'number' ? grace : Number.NaN, adminContext(request));
    request.log.info({ client_id: rotated.client_id, admin_client_id: request.adminClientId, grace_period: grace }, 'client secret rotated by an operator');
    return noStore(reply).send(rotated);
  });

  app.post<{ Params: ClientParams }>(`${client}/rotate-registration-token`, OPTIONAL_BODY, async (request, reply) => {
    optionalBody(request.body);
    const rotated = await rotateRegistrationToken(deps, request.params.clientId, adminContext(request));
    request.log.info({ client_id: rotated.client_id, admin_client_id: request.adminClientId }, 'registration access token rotated by an operator');
    return noStore(reply).send(rotated);
  });

  app.get<{ Querystring: Record<string, string | string[]> }>(`${ADMIN_PATH}/audit`, async (request, reply) => noStore(reply).send(await listAudit(deps.audit, request.query)));

  app.get(`${ADMIN_PATH}/keys`, async (_request, reply) => noStore(reply).send(await listKeys(() => keys.repository.all(), deps.now())));

  app.post(`${ADMIN_PATH}/keys/rotate`, OPTIONAL_BODY, async (request, reply) => {
    const algs = algorithmsToRotate(optionalBody(request.body), keys.serverKeys.algs);
    const added = await rotateKeys(keys.serverKeys, algs, deps.transaction, adminContext(request), deps.now());
    request.log.info({ kids: added.keys.map((key) => key.kid), admin_client_id: request.adminClientId }, 'signing keys added by an operator');
    return noStore(reply).code(201).send(added);
  });

  const iats = `${ADMIN_PATH}/initial-access-tokens`;
  const iat = `${iats}/:id`;
  app.get(iats, async (_request, reply) => noStore(reply).send(await listInitialAccessTokens(control)));

  app.post(iats, async (request, reply) => {
    const created = await createInitialAccessToken(control, objectBody(request.body), adminContext(request));
    request.log.info({ initial_access_token_id: created.id, policy: created.policy, admin_client_id: request.adminClientId }, 'initial access token created by an operator');
    return noStore(reply).code(201).header('location', `${deps.issuer}${iats}/${created.id}`).send(created);
  });

  app.get<{ Params: { id: string } }>(iat, async (request, reply) => noStore(reply).send(await getInitialAccessToken(control, request.params.id)));

  app.post<{ Params: { id: string } }>(`${iat}/revoke`, OPTIONAL_BODY, async (request, reply) => {
    optionalBody(request.body);
    const revoked = await revokeInitialAccessToken(control, request.params.id, adminContext(request));
    request.log.info({ initial_access_token_id: revoked.id, admin_client_id: request.adminClientId }, 'initial access token revoked by an operator');
    return noStore(reply).send(revoked);
  });

  const policies = `${ADMIN_PATH}/policies`;
  const policy = `${policies}/:name`;
  app.get(policies, async (_request, reply) => noStore(reply).send(await listPolicies(control)));

  app.post(policies, async (request, reply) => {
    const created = await createPolicy(control, objectBody(request.body), adminContext(request));
    request.log.info({ policy: created.name, admin_client_id: request.adminClientId }, 'registration policy created by an operator');
    return noStore(reply).code(201).header('location', `${deps.issuer}${policies}/${created.name}`).send(created);
  });

  app.get<{ Params: { name: string } }>(policy, async (request, reply) => noStore(reply).send(await getPolicy(control, request.params.name)));

  app.put<{ Params: { name: string } }>(policy, async (request, reply) => {
    const replaced = await replacePolicy(control, request.params.name, objectBody(request.body), adminContext(request));
    request.log.info({ policy: replaced.name, admin_client_id: request.adminClientId }, 'registration policy replaced by an operator');
    return noStore(reply).send(replaced);
  });

  app.delete<{ Params: { name: string } }>(policy, async (request, reply) => {
    await deletePolicy(control, request.params.name, adminContext(request));
    request.log.info({ policy: request.params.name, admin_client_id: request.adminClientId }, 'registration policy deleted by an operator');
    return noStore(reply).code(204).send();
  });

  const defaultPolicy = `${ADMIN_PATH}/default-policy`;
  app.put(defaultPolicy, async (request, reply) => {
    const chosen = await setDefaultPolicy(control, objectBody(request.body), adminContext(request));
    request.log.info({ policy: chosen.name, admin_client_id: request.adminClientId }, 'default registration policy set by an operator');
    return noStore(reply).send(chosen);
  });

  app.delete(defaultPolicy, async (request, reply) => {
    await clearDefaultPolicy(control, adminContext(request));
    request.log.info({ admin_client_id: request.adminClientId }, 'default registration policy cleared by an operator');
    return noStore(reply).code(204).send();
  });

  // user accounts: the log names the user by id and username, never a password or its hash
  const users = `${ADMIN_PATH}/users`;
  const user = `${users}/:id`;
  app.get<{ Querystring: Record<string, string | string[]> }>(users, async (request, reply) => noStore(reply).send(await listUsers(userDeps, request.query)));

  app.post(users, async (request, reply) => {
    const created = await createUser(userDeps, objectBody(request.body), adminContext(request));
    request.log.info({ user_id: created.id, username: created.username, admin_client_id: request.adminClientId }, 'user created by an operator');
    return noStore(reply).code(201).header('location', `${deps.issuer}${users}/${created.id}`).send(created);
  });

  app.get<{ Params: { id: string } }>(user, async (request, reply) => noStore(reply).send(await getUser(userDeps, request.params.id)));

  app.patch<{ Params: { id: string } }>(user, { config: { accepts: 'application/merge-patch+json' } }, async (request, reply) => {
    if (!isMergePatch(request)) return mergePatchOnly(reply);
    const updated = await patchUser(userDeps, request.params.id, request.body, adminContext(request));
    request.log.info({ user_id: updated.id, admin_client_id: request.adminClientId }, 'user updated by an operator');
    return noStore(reply).send(updated);
  });

  app.delete<{ Params: { id: string } }>(user, async (request, reply) => {
    await deleteUser(userDeps, request.params.id, adminContext(request));
    request.log.info({ user_id: request.params.id, admin_client_id: request.adminClientId }, 'user deleted by an operator');
    return noStore(reply).code(204).send();
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    app.post<{ Params: { id: string } }>(`${user}/${action}`, OPTIONAL_BODY, async (request, reply) => {
      optionalBody(request.body);
      const updated = await setUserDisabled(userDeps, request.params.id, disabled, adminContext(request));
      request.log.info({ user_id: updated.id, admin_client_id: request.adminClientId }, `user ${action}d by an operator`);
      return noStore(reply).send(updated);
    });
  }

  app.get<{ Params: { id: string } }>(`${user}/consents`, async (request, reply) => noStore(reply).send(await listConsents(consentDeps, request.params.id)));

  app.delete<{ Params: { id: string; clientId: string } }>(`${user}/consents/:clientId`, async (request, reply) => {
    await revokeConsent(consentDeps, request.params.id, request.params.clientId, adminContext(request));
    request.log.info({ user_id: request.params.id, client_id: request.params.clientId, admin_client_id: request.adminClientId }, 'consent revoked by an operator');
    return noStore(reply).code(204).send();
  });

  app.post<{ Params: { id: string } }>(`${user}/set-password`, async (request, reply) => {
    const updated = await setUserPassword(userDeps, request.params.id, objectBody(request.body), adminContext(request));
    request.log.info({ user_id: updated.id, admin_client_id: request.adminClientId }, 'user password set by an operator');
    return noStore(reply).send(updated);
  });
}
