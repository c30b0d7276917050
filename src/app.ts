import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { createSecretBox } from './crypto/secret-box.js';
import { buildProviderMetadata } from './discovery/provider-metadata.js';
import { discoveryPaths, discoveryRoutes } from './discovery/routes.js';
import { healthRoutes } from './health/routes.js';
import { registerCors } from './http/cors.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './http/error-handler.js';
import { registrationRoutes } from './registration/routes.js';
import { ClientRepository } from './storage/client-repository.js';
import type { Database } from './storage/database.js';

export interface AppDeps {
  db: Database;
  logger: Logger;
}

/** RFC 7591 does not cap metadata size; 64 KiB holds any sane client, jwks included. */
export const MAX_BODY_BYTES = 64 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Some HTTP clients send `Content-Type: application/json` on every request, DELETE included, with
 * no body. That is not malformed JSON; a DELETE has nothing to parse.
 */
function acceptEmptyJsonOnDelete(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.method === 'DELETE') return done(null, undefined);
    return parseJson(request, body as string, done);
  });
}

/** Builds the application; never listens (server.ts does, tests use their own port). */
export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: config.trustProxy,
    // A caller-supplied request id is kept when it is harmless, so logs join up across services.
    // Client ids are 32 characters; longer ones must still reach our handler and get a 401.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // A client that stalls mid-request must not hold a connection (or a shutdown) open for ever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    // One log line per request, written when it completes (below), instead of Fastify's two.
    disableRequestLogging: true,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });

  // JSON is the only body this API accepts so far; Fastify's text/plain default would let a
  // browser send a CORS-simple request that skips preflight.
  app.removeContentTypeParser('text/plain');
  acceptEmptyJsonOnDelete(app);

  registerErrorHandling(app);
  await app.register(helmet, { global: true, crossOriginResourcePolicy: { policy: 'cross-origin' } });

  const prefix = new URL(config.issuer).pathname.replace(/\/$/, '');
  const discovery = discoveryPaths(config.issuer);
  await registerCors(app, { get: [discovery.openid, discovery.oauth], post: [`${prefix}/register`] });

  healthRoutes(app, deps.db);
  discoveryRoutes(app, config.issuer, buildProviderMetadata(config));

  const registrationDeps = {
    clients: new ClientRepository(deps.db),
    secrets: createSecretBox(config.secretsKeys),
    issuer: config.issuer,
    policy: { scopesSupported: config.scopesSupported },
    rotateAccessTokenOnUpdate: config.registration.rotateAccessTokenOnUpdate,
    clientSecretTtlSeconds: config.registration.clientSecretTtlSeconds,
    now: () => Math.floor(Date.now() / 1000),
  };
  await app.register(async (scope) => registrationRoutes(scope, registrationDeps, config.registration.initialAccessToken), { prefix });

  return app;
}
