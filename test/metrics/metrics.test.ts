import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { CLIENT_AUTH_FAILURES } from '../../src/client-auth/authenticate-client.js';
import { loadConfig } from '../../src/config/config.js';
import { PortInUseError } from '../../src/http/listen-port.js';
import { statementKind, STATEMENT_KINDS } from '../../src/metrics/database.js';
import { REGISTRATION_METRIC_MODES, UNMATCHED_ROUTE } from '../../src/metrics/metrics.js';
import { OUTBOUND_FAILURES } from '../../src/outbound/fetch-json.js';
import { adminToken, bootstrapAdmin } from '../support/admin.js';
import { assertion, assertionParams, basic, keyPair, postForm, registerMachineClient } from '../support/client-auth.js';
import { KeyServer } from '../support/key-server.js';
import { freePort, runServer } from '../support/server-process.js';
import { freshDatabase, request, startTestServer, storageKind, TEST_SECRETS_KEY, type TestServer } from '../support/test-server.js';
import { parseMetrics, scrape } from './scrape.js';

type Json = Record<string, any>;

describe(`Prometheus metrics (${storageKind})`, () => {
  describe('METRICS=off (the default)', () => {
    let server: TestServer;
    beforeAll(async () => void (server = await startTestServer()));
    afterAll(async () => server.close());

    it('GET /metrics is 404 in OAuth JSON, like any unknown path', async () => {
      const res = await request(server, 'GET', '/metrics');
      expect([res.status, res.body.error]).toEqual([404, 'not_found']);
    });
  });

  describe('METRICS=on: the series after real traffic', () => {
    let server: TestServer;
    let keys: KeyServer;
    let secretClient: Json;

    beforeAll(async () => {
      keys = await new KeyServer().start();
      server = await startTestServer({ METRICS: 'on', OUTBOUND_ALLOWED_HOSTS: keys.host });
      secretClient = await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_basic' });
    });
    afterAll(async () => {
      await server.close();
      await keys.stop();
    });

    it('is Prometheus text at the root, with the content type of the registry, and Node process series', async () => {
      const scraped = await scrape(server.url);
      expect(scraped.value('process_cpu_user_seconds_total', 'counter')).toBeGreaterThan(0);
      expect(scraped.family('nodejs_eventloop_lag_seconds', 'gauge')).toBeDefined();
      expect(scraped.value('nodejs_heap_size_used_bytes', 'gauge')).toBeGreaterThan(0);
    });

    it('registrations_total counts 201s of POST /register as open, and clients an operator creates as admin', async () => {
      const before = await scrape(server.url);
      await registerMachineClient(server, { token_endpoint_auth_method: 'client_secret_post' });
      const refused = await request(server, 'POST', '/register', { json: { grant_types: ['nonsense'] } });
      expect(refused.status).toBe(400);
      const admin = await bootstrapAdmin(server);
      const token = await adminToken(server, admin);
      const created = await request(server, 'POST', '/admin/clients', { token, json: { grant_types: ['client_credentials'] } });
      expect(created.status).toBe(201);

      const after = await scrape(server.url);
      const delta = (mode: string) => after.value('oidc_registrar_registrations_total', 'counter', { mode }) - before.value('oidc_registrar_registrations_total', 'counter', { mode });
      expect([delta('open'), delta('admin'), delta('protected')]).toEqual([1, 1, 0]);
      expect(after.labelValues('oidc_registrar_registrations_total', 'mode').every((m) => (REGISTRATION_METRIC_MODES as readonly string[]).includes(m))).toBe(true);
    });

    it('http_requests_total and its latency histogram carry the route template, never the raw URL', async () => {
      const read = await request(server, 'GET', `/register/${secretClient.client_id}`, { token: secretClient.registration_access_token });
      expect(read.status).toBe(200);
      expect((await request(server, 'GET', '/no/such/path/1')).status).toBe(404);
      expect((await request(server, 'GET', '/no/such/path/2')).status).toBe(404);

      const scraped = await scrape(server.url);
      const requests = 'oidc_registrar_http_requests_total';
      expect(scraped.value(requests, 'counter', { method: 'POST', route: '/register', status: '201' })).toBeGreaterThanOrEqual(1);
      expect(scraped.value(requests, 'counter', { method: 'GET', route: '/register/:clientId', status: '200' })).toBe(1);
      expect(scraped.value(requests, 'counter', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).toBe(2);
      const routes = scraped.labelValues(requests, 'route');
      expect(routes.some((r) => r.includes(secretClient.client_id) || r.includes('/no/such'))).toBe(false);

      const [latency] = scraped.histograms('oidc_registrar_http_request_duration_seconds', { method: 'GET', route: '/register/:clientId' });
      expect(latency?.count).toBe(1);
      expect(latency?.buckets['+Inf']).toBe(1);
      expect(latency?.sum).toBeGreaterThan(0);
    });

    it('client_authentications_total by method and result, and tokens_issued_total by grant type and format', async () => {
      const before = await scrape(server.url);
      const good = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(secretClient.client_id, secretClient.client_secret) });
      expect(good.status).toBe(200);
      const wrongSecret = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(secretClient.client_id, 'not-the-secret') });
      expect(wrongSecret.status).toBe(401);
      const unknown = await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic('A'.repeat(32), 'whatever') });
      expect(unknown.status).toBe(401);
      const none = await postForm(server, '/token', { grant_type: 'client_credentials' });
      expect(none.status).toBe(401);
      const after = await scrape(server.url);

      const auths = 'oidc_registrar_client_authentications_total';
      const delta = (labels: Record<string, string>) => after.value(auths, 'counter', labels) - before.value(auths, 'counter', labels);
      expect(delta({ method: 'client_secret_basic', result: 'success' })).toBe(1);
      expect(delta({ method: 'client_secret_basic', result: 'bad_secret' })).toBe(1);
      expect(delta({ method: 'client_secret_basic', result: 'unknown_client' })).toBe(1);
      expect(delta({ method: 'none', result: 'malformed' })).toBe(1);
      // results come from a fixed set, whatever the precise reason in the log
      expect(after.labelValues(auths, 'result').filter((r) => r !== 'success' && !(CLIENT_AUTH_FAILURES as readonly string[]).includes(r))).toEqual([]);

      const issued = (s: typeof after) => s.value('oidc_registrar_tokens_issued_total', 'counter', { grant_type: 'client_credentials', format: 'jwt' });
      expect(issued(after) - issued(before)).toBe(1);
    });

    it('introspections_total by whether the token was active, and revocations_total', async () => {
      const auth = { authorization: basic(secretClient.client_id, secretClient.client_secret) };
      const issued = await postForm(server, '/token', { grant_type: 'client_credentials' }, auth);
      const before = await scrape(server.url);
      expect((await postForm(server, '/introspect', { token: issued.body.access_token }, auth)).body.active).toBe(true);
      expect((await postForm(server, '/revoke', { token: issued.body.access_token }, auth)).status).toBe(200);
      expect((await postForm(server, '/introspect', { token: issued.body.access_token }, auth)).body.active).toBe(false);
      const after = await scrape(server.url);
      const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, 'counter', labels) - before.value(name, 'counter', labels);
      expect([delta('oidc_registrar_introspections_total', { active: 'true' }), delta('oidc_registrar_introspections_total', { active: 'false' })]).toEqual([1, 1]);
      expect(delta('oidc_registrar_revocations_total')).toBe(1);
    });

    it('outbound_fetches_total by result and their duration: a jwks_uri fetched, then one that fails', async () => {
      const key = await keyPair('ES256');
      keys.body = { keys: [key.publicJwk] };
      keys.status = 200;
      const client = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: keys.url('/good') });
      const signed = () => assertion({ clientId: client.client_id, audience: server.config.issuer, key: key.privateKey, alg: key.alg, kid: key.kid });
      const before = await scrape(server.url);
      expect((await postForm(server, '/token', assertionParams(await signed()))).status).toBe(200);

      keys.status = 500;
      const failing = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: keys.url('/failing') });
      const refused = await postForm(server, '/token', assertionParams(await assertion({ clientId: failing.client_id, audience: server.config.issuer, key: key.privateKey, alg: key.alg, kid: key.kid })));
      expect(refused.status).toBe(401);
      keys.status = 200;
      const after = await scrape(server.url);

      const fetches = 'oidc_registrar_outbound_fetches_total';
      const delta = (name: string, labels: Record<string, string>) => after.value(name, 'counter', labels) - before.value(name, 'counter', labels);
      expect([delta(fetches, { result: 'ok' }), delta(fetches, { result: 'http_status' })]).toEqual([1, 1]);
      expect(after.labelValues(fetches, 'result').every((r) => r === 'ok' || (OUTBOUND_FAILURES as readonly string[]).includes(r))).toBe(true);
      const [duration] = after.histograms('oidc_registrar_outbound_fetch_duration_seconds');
      const [earlier] = before.histograms('oidc_registrar_outbound_fetch_duration_seconds');
      expect((duration?.count ?? 0) - (earlier?.count ?? 0)).toBe(2);
      const auths = 'oidc_registrar_client_authentications_total';
      expect(delta(auths, { method: 'private_key_jwt', result: 'success' })).toBe(1);
      expect(delta(auths, { method: 'private_key_jwt', result: 'key_unavailable' })).toBe(1);
    });

    it('a replayed assertion is counted as replayed_assertion', async () => {
      const key = await keyPair('ES256');
      const client = await registerMachineClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
      const once = await assertion({ clientId: client.client_id, audience: server.config.issuer, key: key.privateKey, alg: key.alg, kid: key.kid });
      const before = await scrape(server.url);
      expect((await postForm(server, '/token', assertionParams(once))).status).toBe(200);
      expect((await postForm(server, '/token', assertionParams(once))).status).toBe(401);
      const after = await scrape(server.url);
      const labels = { method: 'private_key_jwt', result: 'replayed_assertion' };
      expect(after.value('oidc_registrar_client_authentications_total', 'counter', labels) - before.value('oidc_registrar_client_authentications_total', 'counter', labels)).toBe(1);
    });

    it('db_query_duration_seconds by statement kind and outcome, and the pool gauges read at scrape time', async () => {
      const scraped = await scrape(server.url);
      const queries = 'oidc_registrar_db_query_duration_seconds';
      for (const kind of ['SELECT', 'INSERT']) expect(scraped.histograms(queries, { kind, outcome: 'ok' })[0]?.count, kind).toBeGreaterThan(0);
      expect(scraped.labelValues(queries, 'kind').every((k) => (STATEMENT_KINDS as readonly string[]).includes(k))).toBe(true);
      const pool = 'oidc_registrar_db_pool_connections';
      expect(scraped.labelValues(pool, 'state')).toEqual(['idle', 'total', 'waiting']);
      expect(scraped.value(pool, 'gauge', { state: 'total' })).toBeGreaterThanOrEqual(1);
      expect(scraped.value(pool, 'gauge', { state: 'waiting' })).toBe(0);
    });
  });

  describe('registrations with an initial access token required', () => {
    it('are counted as protected', async () => {
      const initialAccessToken = 'i'.repeat(40);
      const server = await startTestServer({ METRICS: 'on', REGISTRATION_INITIAL_ACCESS_TOKEN: initialAccessToken });
      try {
        const res = await request(server, 'POST', '/register', { token: initialAccessToken, json: { grant_types: ['client_credentials'] } });
        expect(res.status).toBe(201);
        expect((await request(server, 'POST', '/register', { json: { grant_types: ['client_credentials'] } })).status).toBe(401);
        const scraped = await scrape(server.url);
        expect(scraped.value('oidc_registrar_registrations_total', 'counter', { mode: 'protected' })).toBe(1);
        expect(scraped.value('oidc_registrar_registrations_total', 'counter', { mode: 'open' })).toBe(0);
      } finally {
        await server.close();
      }
    });
  });

  describe('rate_limited_total', () => {
    it('counts the rate limiter\'s refusals by route: POST /register and the token endpoints', async () => {
      const server = await startTestServer({ METRICS: 'on', RATE_LIMIT_REGISTER: '1/minute', RATE_LIMIT_TOKEN: '1/minute' });
      try {
        expect((await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).status).toBe(201);
        for (let i = 0; i < 2; i++) expect((await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } })).status).toBe(429);
        expect((await postForm(server, '/token', { grant_type: 'client_credentials' })).status).toBe(401);
        expect((await postForm(server, '/introspect', { token: 'x' })).status).toBe(429);
        const samples = (await scrape(server.url)).samples('oidc_registrar_rate_limited_total', 'counter');
        expect(samples).toEqual(expect.arrayContaining([{ labels: { route: '/register' }, value: 2 }, { labels: { route: '/introspect' }, value: 1 }]));
        expect(samples).toHaveLength(2);
      } finally {
        await server.close();
      }
    });

    // and any other 429 (a route of the test's own answers it): counted by the same hook
    it('counts every 429 by route template, and nothing else', async () => {
      const { db, drop } = await freshDatabase();
      const app = await buildApp(loadConfig({ PORT: '0', SECRETS_KEY: TEST_SECRETS_KEY, METRICS: 'on' }), { db, logger: pino({ level: 'silent' }) });
      try {
        app.get('/limited/:n', async (_request, reply) => reply.code(429).header('retry-after', '1').send({ error: 'too_many_requests', error_description: 'slow down' }));
        for (const n of [1, 2, 3]) expect((await app.inject({ method: 'GET', url: `/limited/${n}` })).statusCode).toBe(429);
        expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
        const scraped = await parseMetrics((await app.inject({ method: 'GET', url: '/metrics' })).body);
        expect(scraped.samples('oidc_registrar_rate_limited_total', 'counter')).toEqual([{ labels: { route: '/limited/:n' }, value: 3 }]);
      } finally {
        await app.close();
        await db.close();
        await drop();
      }
    });
  });

  it('each app keeps its own registry: two instances in one process do not share counts', async () => {
    const first = await startTestServer({ METRICS: 'on' });
    const second = await startTestServer({ METRICS: 'on' });
    try {
      await registerMachineClient(first, {});
      await registerMachineClient(first, {});
      await registerMachineClient(second, {});
      const count = async (server: TestServer) => (await scrape(server.url)).value('oidc_registrar_registrations_total', 'counter', { mode: 'open' });
      expect([await count(first), await count(second)]).toEqual([2, 1]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  describe('METRICS_PORT: a listener of its own', () => {
    it('serves /metrics on the loopback port and not on the main port; closes with the app', async () => {
      const metricsPort = await freePort();
      const server = await startTestServer({ METRICS: 'on', METRICS_PORT: String(metricsPort) });
      const metricsUrl = `http://127.0.0.1:${metricsPort}`;
      try {
        expect(server.config.metrics).toEqual({ enabled: true, listener: { port: metricsPort, host: '127.0.0.1' } });
        expect((await request(server, 'GET', '/metrics')).status).toBe(404);
        await registerMachineClient(server, {});
        const scraped = await scrape(metricsUrl);
        expect(scraped.value('oidc_registrar_registrations_total', 'counter', { mode: 'open' })).toBe(1);
        // requests on the main port are counted; the metrics port serves nothing else
        expect(scraped.value('oidc_registrar_http_requests_total', 'counter', { route: '/register', status: '201' })).toBe(1);
        const other = await request({ url: metricsUrl }, 'GET', '/healthz');
        expect([other.status, other.body.error]).toEqual([404, 'not_found']);
        const post = await request({ url: metricsUrl }, 'POST', '/metrics');
        expect([post.status, post.body.error, post.headers.get('allow')]).toEqual([405, 'method_not_allowed', 'GET, HEAD']);
      } finally {
        await server.close();
      }
      await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
    });

    it('a taken METRICS_PORT fails the start with PortInUseError naming METRICS_PORT', async () => {
      const metricsPort = await freePort();
      const holder: Server = await new Promise((resolve) => {
        const s = createServer().listen(metricsPort, '127.0.0.1', () => resolve(s));
      });
      const { db, drop } = await freshDatabase();
      const app = await buildApp(loadConfig({ PORT: '0', SECRETS_KEY: TEST_SECRETS_KEY, METRICS: 'on', METRICS_PORT: String(metricsPort) }), { db, logger: pino({ level: 'silent' }) });
      try {
        const failure = await app.listen({ port: 0, host: '127.0.0.1' }).then(() => undefined, (error: unknown) => error);
        expect(failure).toBeInstanceOf(PortInUseError);
        expect((failure as Error).message).toBe(`METRICS_PORT ${metricsPort} on 127.0.0.1 is already in use`);
      } finally {
        await app.close();
        holder.close();
        await db.close();
        await drop();
      }
    });
  });

  it('a real server exits 78 naming METRICS_PORT when it is taken, before opening the database', async () => {
    const metricsPort = await freePort();
    const holder: Server = await new Promise((resolve) => {
      const s = createServer().listen(metricsPort, '127.0.0.1', () => resolve(s));
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'registrar-metrics-port-'));
    try {
      const server = runServer({ PORT: String(await freePort()), DATA_DIR: dataDir, METRICS: 'on', METRICS_PORT: String(metricsPort) });
      expect(await server.exit).toBe(78);
      expect(server.output()).toContain(`oidc-registrar: METRICS_PORT ${metricsPort} on 127.0.0.1 is already in use`);
      expect(existsSync(join(dataDir, 'pgdata'))).toBe(false);
    } finally {
      holder.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('statement kinds: the first keyword, anything else OTHER', () => {
    expect(['SELECT 1', '  select x', 'insert into t', '\nUPDATE t', 'delete from t', 'WITH a AS (SELECT 1) SELECT 1', 'BEGIN', ''].map(statementKind)).toEqual([
      'SELECT',
      'SELECT',
      'INSERT',
      'UPDATE',
      'DELETE',
      'OTHER',
      'OTHER',
      'OTHER',
    ]);
  });
});
