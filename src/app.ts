import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MAX_ACCESS_TOKEN_LIFETIME, type Config } from './config/config.js';
import { createSecretBox } from './crypto/secret-box.js';
import { assertSecretsKeysOpen } from './crypto/secrets-key-check.js';
import { buildProviderMetadata } from './discovery/provider-metadata.js';
import { discoveryPaths, discoveryRoutes } from './discovery/routes.js';
import { healthRoutes } from './health/routes.js';
import type { ClientAuthDeps } from './client-auth/authenticate-client.js';
import { ClientCache } from './client-auth/client-cache.js';
import { ClientKeys } from './client-auth/client-keys.js';
import { ClientUsage, USAGE_RESOLUTION_SECONDS } from './client-auth/client-usage.js';
import type { AdminDeps } from './admin/clients.js';
import { adminRoutes } from './admin/routes.js';
import { RemoteJwksCache } from './client-auth/remote-jwks.js';
import { registerCors } from './http/cors.js';
import { ENDPOINT_PATHS, endpointUrls } from './http/endpoints.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './http/error-handler.js';
import { acceptEmptyJsonOnDelete } from './http/json-body.js';
import { lazyRequestLogger } from './http/request-logger.js';
import { helmetHeaders } from './http/security-headers.js';
import { StaticDocuments } from './http/static-documents.js';
import { runPeriodically, trackInFlight } from './http/lifecycle.js';
import { serveMetrics } from './metrics/http.js';
import { createMetrics, NO_METRICS } from './metrics/metrics.js';
import { fetchJson } from './outbound/fetch-json.js';
import { limitRegistration, limitTokenEndpoints } from './rate-limit/limits.js';
import type { RegistrationDeps } from './registration/client-registration.js';
import { registrationRoutes } from './registration/routes.js';
import { purgeAudit } from './audit/retention.js';
import { AuditRepository } from './storage/audit-repository.js';
import { ClientRepository } from './storage/client-repository.js';
import type { Database } from './storage/database.js';
import { RateLimitRepository } from './storage/rate-limit-repository.js';
import { ReplayRepository } from './storage/replay-repository.js';
import { RevocationRepository } from './storage/revocation-repository.js';
import { ReferenceTokenRepository } from './storage/reference-token-repository.js';
import { inTransaction } from './storage/transaction.js';
import { SessionRepository } from './storage/session-repository.js';
import { passwordCredentials } from './authorization/password-credentials.js';
import { signInRoutes } from './authorization/routes.js';
import { authorizeRoutes, cspForAuthorizationReturn, languageForAuthorizationReturn, type AuthorizeDeps } from './authorization/authorize/routes.js';
import { AuthorizationRepository, ConsentRepository } from './storage/authorization-repository.js';
import { RefreshTokenRepository } from './storage/refresh-token-repository.js';
import type { RefreshTokenStore } from './tokens/refresh-tokens.js';
import type { SignInDeps } from './authorization/sign-in.js';
import { InitialAccessTokenRepository } from './storage/initial-access-token-repository.js';
import { RegistrationPolicyRepository } from './storage/registration-policy-repository.js';
import { RegistrationRepository } from './storage/registration-repository.js';
import { ServerKeyRepository } from './storage/server-key-repository.js';
import { UserRepository } from './storage/user-repository.js';
import type { AccessTokenDeps } from './tokens/access-tokens.js';
import { jwksRoute, tokenRoutes } from './tokens/routes.js';
import { ServerKeys, serverKeySealContext } from './tokens/server-keys.js';
import { userInfoRoutes } from './tokens/userinfo.js';
import type { ResponseEncryptionDeps } from './tokens/response-encryption.js';
import { metadataPolicyOf } from './registration/validate-metadata.js';
import { PairwiseSubjectRepository } from './storage/pairwise-subject-repository.js';
import { loadPairwiseSalt, type SubjectDeps } from './users/subjects.js';

export interface AppDeps {
  db: Database;
  logger: Logger;
}

/** Other instances may rotate keys; each re-reads them this often (and on an unknown kid). */
const KEY_REFRESH_SECONDS = 30;
/** Expired assertion ids and revocations are deleted in the background, never on a request. */
const PURGE_SECONDS = 60;

/** Client secrets opened at start-up to prove SECRETS_KEY is the one the data was sealed with. */
const SECRET_SAMPLE_SIZE = 20;

/** RFC 7591 does not cap metadata size; 64 KiB holds any sane client, jwks included. */
export const MAX_BODY_BYTES = 64 * 1024;

/** How often Node looks for requests past their timeout: the cut comes at most this late. */
const REQUEST_TIMEOUT_CHECK_MS = 1_000;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Our own request ids: this process's random prefix (72 bits, drawn at start-up) and a counter,
 * unique across instances and restarts for joining logs. A UUID per request cost ~3 µs, a tenth
 * of a discovery request (measured).
 */
function requestIds(): () => string {
  const prefix = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  let count = 0;
  return () => `${prefix}-${(++count).toString(36)}`;
}

/** Builds the application; never listens (server.ts does, tests use their own port). */
export async function buildApp(config: Config, appDeps: AppDeps): Promise<FastifyInstance> {
  // one registry per app; every statement below goes through the timed database when metrics are on
  const metrics = config.metrics.enabled ? createMetrics(() => appDeps.db.connections()) : NO_METRICS;
  const deps: AppDeps = { ...appDeps, db: metrics.observeDatabase(appDeps.db) };
  const nextRequestId = requestIds();
  // A caller-supplied request id is kept when it is harmless, so logs join up across services.
  const requestIdOf = (given: string | string[] | undefined) => (typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId());
  const securityHeaders = await helmetHeaders();
  // discovery and the JWKS: answered in front of Fastify with the same headers (static-documents.ts)
  const staticDocuments = new StaticDocuments();
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: config.trustProxy,
    // Client ids are 32 characters; longer ones must still reach our handler and get a 401.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // A client that stalls or trickles must not hold a connection (or a shutdown) open: the whole
    // request, headers included, within REQUEST_TIMEOUT. Node reads headersTimeout and its check
    // interval only when the server is created, so they go in here, not after.
    requestTimeout: config.requestTimeoutSeconds * 1000,
    http: {
      requestTimeout: config.requestTimeoutSeconds * 1000,
      headersTimeout: config.requestTimeoutSeconds * 1000,
      connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS,
    },
    serverFactory: staticDocuments.serverFactory(),
    connectionTimeout: 60_000,
    // One log line per request, written when it completes (below), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (request) => requestIdOf(request.headers['x-request-id']),
    childLoggerFactory: lazyRequestLogger,
  }) as unknown as FastifyInstance;

  // Every response: helmet's headers (computed once, see security-headers.ts) and the request id.
  // Synchronous hooks: an async one costs a promise per request on every route.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(securityHeaders).header('x-request-id', request.id);
    done();
  });
  serveMetrics(app, metrics, config);
  const logCompleted = (log: FastifyBaseLogger, method: string, url: string, status: number, elapsedMs: number) =>
    log.info({ method, path: url.split('?')[0], status, ms: Math.round(elapsedMs) }, 'request completed');
  app.addHook('onResponse', (request, reply, done) => {
    if (deps.logger.isLevelEnabled('info')) logCompleted(request.log, request.method, request.url, reply.statusCode, reply.elapsedTime);
    done();
  });

  // JSON is the only body this API accepts so far; Fastify's text/plain default would let a
  // browser send a CORS-simple request that skips preflight.
  app.removeContentTypeParser('text/plain');
  acceptEmptyJsonOnDelete(app);

  registerErrorHandling(app);

  const prefix = new URL(config.issuer).pathname.replace(/\/$/, '');
  const discovery = discoveryPaths(config.issuer);
  // public keys are public: in-browser verifiers may fetch them too
  const corsHeaders = registerCors(app, {
    get: [discovery.openid, discovery.oauth, `${prefix}${ENDPOINT_PATHS.jwks}`],
    post: [`${prefix}${ENDPOINT_PATHS.registration}`],
  });
  staticDocuments.use(
    {
      headers: securityHeaders,
      corsHeaders,
      requestId: requestIdOf,
      observed: () => config.metrics.enabled || deps.logger.isLevelEnabled('info'),
      completed: ({ id, method, url, route, status, elapsedMs }) => {
        if (deps.logger.isLevelEnabled('info')) logCompleted(deps.logger.child({ reqId: id }), method, url, status, elapsedMs);
        metrics.httpRequest(method, route, status, elapsedMs / 1000);
      },
    },
    app,
  );

  const now = () => Math.floor(Date.now() / 1000);
  // lookups by id from concurrent requests share a statement (token, RFC 7592, /authorize)
  const clients = new ClientRepository(deps.db, { batchReads: true });
  const secrets = createSecretBox(config.secretsKeys);
  // one fetcher for everything a client names: jwks_uri, sector_identifier_uri
  const outboundFetch = metrics.observeFetch(fetchJson);
  const clientKeys = new ClientKeys(new RemoteJwksCache(config.outbound, now, config.clientCacheSize, outboundFetch), config.clientCacheSize);

  const clientCache = new ClientCache(clients, config.clientCacheSize);

  const serverKeyRepository = new ServerKeyRepository(deps.db);
  assertSecretsKeysOpen(secrets, [
    ...(await serverKeyRepository.all()).map((key) => ({ kind: 'server signing key' as const, sealed: key.privateCiphertext, context: serverKeySealContext(key.kid) })),
    ...(await clients.sampleSealedSecrets(SECRET_SAMPLE_SIZE)).map((c) => ({ kind: 'client secret' as const, sealed: c.secretCiphertext, context: c.clientId })),
  ]);
  const serverKeys = new ServerKeys(serverKeyRepository, secrets, {
    algs: config.signingKeys.algs,
    activationDelaySeconds: config.signingKeys.activationDelaySeconds,
    rotationIntervalSeconds: config.signingKeys.rotationIntervalSeconds,
    // a client's own access_token_lifetime may be up to the maximum: its tokens must stay verifiable
    retentionSeconds: MAX_ACCESS_TOKEN_LIFETIME + config.clientAuth.clockSkewSeconds,
  }, now);
  await serverKeys.start();

  const endpoints = endpointUrls(config.issuer);
  // discovery tells the truth: a closed server announces no registration endpoint
  const { registration_endpoint: _closed, ...withoutRegistration } = endpoints;
  discoveryRoutes(app, staticDocuments, config.issuer, buildProviderMetadata(config, config.registration.mode === 'closed' ? withoutRegistration : endpoints));

  const transaction = inTransaction(deps.db);
  const registrationDeps: RegistrationDeps = {
    clients,
    transaction,
    secrets,
    issuer: config.issuer,
    policy: metadataPolicyOf(config, outboundFetch),
    rotateAccessTokenOnUpdate: config.registration.rotateAccessTokenOnUpdate,
    clientSecretTtlSeconds: config.registration.clientSecretTtlSeconds,
    now,
    clientChanged: (before) => {
      clientKeys.forget(before.clientId, before.metadata.jwks_uri as string | undefined);
      clientCache.forget(before.clientId);
    },
    access: { mode: config.registration.mode, staticToken: config.registration.initialAccessToken, tokens: new InitialAccessTokenRepository(deps.db) },
    policies: new RegistrationPolicyRepository(deps.db),
    registrations: new RegistrationRepository(deps.db),
  };
  const replay = new ReplayRepository(deps.db);
  const revocations = new RevocationRepository(deps.db);
  const references = new ReferenceTokenRepository(deps.db);
  const rateLimitCounters = new RateLimitRepository(deps.db);
  const usage = new ClientUsage(now, config.clientCacheSize, config.clientUsageTracking);
  const clientAuthDeps: ClientAuthDeps = {
    clients,
    cache: clientCache,
    usage,
    secrets,
    keys: clientKeys,
    replay,
    now,
    metrics,
    policy: {
      issuer: config.issuer,
      endpointUrls: [endpoints.token_endpoint, endpoints.introspection_endpoint, endpoints.revocation_endpoint],
      acceptEndpointAudience: config.clientAuth.acceptEndpointAudience,
      clockSkewSeconds: config.clientAuth.clockSkewSeconds,
      maxLifetimeSeconds: config.clientAuth.maxAssertionLifetimeSeconds,
    },
  };
  const tokenDeps: AccessTokenDeps = {
    keys: serverKeys,
    signingAlg: config.signingKeys.alg,
    clients,
    revocations,
    references,
    issuer: config.issuer,
    audience: config.tokens.audience,
    resourceIndicators: config.tokens.resourceIndicators,
    lifetimeSeconds: config.tokens.lifetimeSeconds,
    format: config.tokens.format,
    now,
  };
  // ID tokens and UserInfo responses encrypted to the client: its keys through the same caches as client authentication
  const responseEncryptionDeps: ResponseEncryptionDeps = { clientKeys, secrets, now };
  const audit = new AuditRepository(deps.db);
  const adminDeps: AdminDeps = {
    clients,
    audit,
    transaction,
    secrets,
    issuer: config.issuer,
    policy: registrationDeps.policy,
    clientSecretTtlSeconds: config.registration.clientSecretTtlSeconds,
    tokenDefaults: config.tokens,
    now,
    clientChanged: registrationDeps.clientChanged,
  };

  const users = new UserRepository(deps.db);
  const pairwiseSubjects = new PairwiseSubjectRepository(deps.db);
  // read (or made, by the first instance) once: every instance then computes the same subjects
  const subjects: SubjectDeps = { salt: await loadPairwiseSalt(pairwiseSubjects, now()), pairwiseSubjects, now };
  const sessions = new SessionRepository(deps.db);
  const signInDeps: SignInDeps = {
    sessions: {
      sessions,
      findUser: (id) => users.findById(id),
      policy: config.sessions,
      now,
    },
    verifyCredentials: passwordCredentials(users),
    throttle: { counters: rateLimitCounters, limits: config.loginThrottle },
  };
  const authorizations = new AuthorizationRepository(deps.db);
  const consents = new ConsentRepository(deps.db);
  const authorizeDeps: AuthorizeDeps = {
    issuer: config.issuer,
    clients,
    authorizations,
    consents,
    sessions: signInDeps.sessions,
    scopesSupported: config.scopesSupported,
    subjects,
    resourceIndicators: config.tokens.resourceIndicators,
    now,
  };
  const refresh: RefreshTokenStore = { repository: new RefreshTokenRepository(deps.db), ...config.refreshTokens };

  // static documents answer from memory and touch no storage: outside the in-flight tracking
  jwksRoute(app, staticDocuments, `${prefix}${ENDPOINT_PATHS.jwks}`, serverKeys);
  // everything else: closing waits for its handlers before the database goes (lifecycle.ts)
  await app.register(async (tracked) => {
    trackInFlight(tracked);
    healthRoutes(tracked, deps.db, () => serverKeys.canSign());
    await tracked.register(
      async (scope) => {
        // HTML pages with headers of their own; the API's JSON and helmet defaults stay as they are
        await scope.register(async (pagesScope) => {
          signInRoutes(
            pagesScope,
            signInDeps,
            config.issuer,
            { issuer: config.issuer, keys: serverKeys, findClient: (clientId) => clients.findById(clientId), subjects, now },
            { cspForReturnTo: cspForAuthorizationReturn(authorizeDeps), languageForReturnTo: languageForAuthorizationReturn(authorizeDeps) },
          );
          authorizeRoutes(pagesScope, authorizeDeps);
        });
        // each in a scope of its own: they read different body types
        await scope.register(async (registrationScope) => {
          await limitRegistration(registrationScope, config.rateLimits, rateLimitCounters, app.log);
          registrationRoutes(registrationScope, registrationDeps, metrics);
        });
        await scope.register(async (tokenScope) => {
          await limitTokenEndpoints(tokenScope, config.rateLimits, config.issuer, app.log);
          tokenRoutes(tokenScope, clientAuthDeps, tokenDeps, metrics, { authorizations, refresh, findUser: (id) => users.findById(id), encryption: responseEncryptionDeps, subjects });
        });
        await scope.register(async (userInfoScope) => userInfoRoutes(userInfoScope, { tokens: tokenDeps, findUser: (id) => users.findById(id), encryption: responseEncryptionDeps, subjects }));
        await scope.register(async (adminScope) =>
          adminRoutes(adminScope, adminDeps, tokenDeps, { serverKeys, repository: serverKeyRepository }, metrics, {
            initialAccessTokens: registrationDeps.access.tokens,
            policies: registrationDeps.policies,
            transaction,
            now,
          }, { users, transaction, now }, { users, consents, transaction, now }),
        );
      },
      { prefix },
    );
  });

  runPeriodically(app, KEY_REFRESH_SECONDS, () => serverKeys.refresh());
  // last_used_at: one statement a minute for every client used since, never a write per request
  if (config.clientUsageTracking) {
    const flush = () => usage.flush((ids, at) => clients.markUsed(ids, at, USAGE_RESOLUTION_SECONDS));
    runPeriodically(app, USAGE_RESOLUTION_SECONDS, flush);
    app.addHook('onClose', async () => void (await flush().catch(() => undefined)));
  }
  runPeriodically(app, PURGE_SECONDS, async () => {
    const purged = {
      assertions: await replay.purgeExpired(now()),
      revocations: await revocations.purgeExpired(now()),
      referenceTokens: await references.purgeExpired(now()),
      rateLimitCounters: await rateLimitCounters.purgeExpired(Date.now()),
      sessions: await sessions.purgeExpired(now(), config.sessions.idleTimeoutSeconds),
      authorizations: await authorizations.purgeExpired(now()),
      refreshTokens: await refresh.repository.purgeExpired(now()),
    };
    if (Object.values(purged).some((count) => count > 0)) app.log.debug(purged, 'purged expired assertion ids, revocations, reference tokens, rate-limit counters, sessions, authorizations and refresh tokens');
    // keys of clients changed or deleted on another instance: unused (versions are checked per
    // request), but they would hold memory until the cache bound pushed them out
    if (config.audit.retentionSeconds !== null) {
      const auditPurged = await purgeAudit(audit, now() - config.audit.retentionSeconds);
      if (auditPurged > 0) app.log.debug({ auditPurged }, 'purged audit entries past AUDIT_RETENTION');
    }
    const dropped = await clientKeys.sweep((ids) => clients.versions(ids));
    if (dropped > 0) app.log.debug({ dropped }, 'dropped cached keys of clients changed elsewhere');
  });

  return app;
}

