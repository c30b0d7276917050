import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireBearerToken } from '../http/bearer.js';
import { changeContext } from '../http/change-context.js';
import { acceptsOnly } from '../http/error-handler.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { registrationClosed } from './registration-access.js';
import type { Metrics } from '../metrics/metrics.js';
import {
  asMetadataObject,
  deleteClient,
  readClient,
  registerClient,
  updateClient,
  type RegistrationDeps,
} from './client-registration.js';

/** RFC 7591 §3.2.1 and RFC 7592 §3: responses carry credentials and must not be cached. */
function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

interface ClientParams {
  clientId: string;
}

/** RFC 7592: the client acts on itself (the domain checks its registration access token). */
const selfContext = (request: FastifyRequest<{ Params: ClientParams }>) => changeContext(request, { type: 'client', id: request.params.clientId });

/** The registration endpoint and the client configuration endpoint, under the issuer's path. */
export function registrationRoutes(app: FastifyInstance, deps: RegistrationDeps, metrics: Pick<Metrics, 'registrationCompleted'>): void {
  acceptsOnly(app, 'application/json');
  app.post(ENDPOINT_PATHS.registration, async (request, reply) => {
    // the mode is decided before the header or the body is looked at; a Bearer token, when sent, must be valid
    if (deps.access.mode === 'closed') throw registrationClosed();
    const presented = request.headers.authorization === undefined ? undefined : requireBearerToken(request.headers.authorization);
    const client = await registerClient(deps, asMetadataObject(request.body), changeContext(request, { type: 'anonymous', id: null }), presented);
    request.log.info({ client_id: client.client_id }, 'client registered');
    // closed mode never gets here: only open and protected registrations are counted under their mode
    metrics.registrationCompleted(deps.access.mode === 'protected' ? 'protected' : 'open');
    return noStore(reply).code(201).header('location', client.registration_client_uri).send(client);
  });

  app.get<{ Params: ClientParams }>(`${ENDPOINT_PATHS.registration}/:clientId`, async (request, reply) => {
    const client = await readClient(deps, request.params.clientId, requireBearerToken(request.headers.authorization));
    return noStore(reply).send(client);
  });

  app.put<{ Params: ClientParams }>(`${ENDPOINT_PATHS.registration}/:clientId`, async (request, reply) => {
    const token = requireBearerToken(request.headers.authorization);
    const client = await updateClient(deps, request.params.clientId, token, asMetadataObject(request.body), selfContext(request));
    request.log.info({ client_id: client.client_id }, 'client updated');
    return noStore(reply).send(client);
  });

  app.delete<{ Params: ClientParams }>(`${ENDPOINT_PATHS.registration}/:clientId`, async (request, reply) => {
    await deleteClient(deps, request.params.clientId, requireBearerToken(request.headers.authorization), selfContext(request));
    request.log.info({ client_id: request.params.clientId }, 'client deleted');
    return noStore(reply).code(204).send();
  });
}
