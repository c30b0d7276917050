import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import type { Database } from '../../src/storage/database.js';
import { connectPostgres } from '../../src/storage/postgres.js';
import { DatabaseUnavailableError, unavailabilityReason } from '../../src/storage/unavailable.js';
import { basic, postForm, registerMachineClient } from '../support/client-auth.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { freshDatabase, request, serveApp, startTestServer, storageKind } from '../support/test-server.js';

function logCapture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    logger: createLogger('info', stream),
    entries: () => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
    clear: () => void (text = ''),
  };
}

const serve = (db: Database, logger: ReturnType<typeof createLogger>) => serveApp(db, {}, logger);

function expectUnavailable(res: { status: number; headers: Headers; body: any }): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('try again') });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('which database errors mean "unavailable"', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it.each([
    ['connection refused', withCode('ECONNREFUSED'), 'ECONNREFUSED'],
    ['connection reset', withCode('ECONNRESET'), 'ECONNRESET'],
    ['DNS failure', withCode('EAI_AGAIN'), 'EAI_AGAIN'],
    ['every address refused', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), 'ECONNREFUSED'],
    ['pool timeout', new Error('timeout exceeded when trying to connect'), 'timeout exceeded when trying to connect'],
    ['connection dropped mid-query', new Error('Connection terminated unexpectedly'), 'Connection terminated unexpectedly'],
    ['pool closed during shutdown', new Error('Cannot use a pool after calling end on the pool'), 'Cannot use a pool after calling end on the pool'],
    ['embedded database closed during shutdown', new Error('PGlite is closed'), 'PGlite is closed'],
    ['client-side read timeout', new Error('Query read timeout'), 'Query read timeout'],
    ['connection failure SQLSTATE class 08', withCode('08006'), 'SQLSTATE 08006'],
    ['server shutting down (admin_shutdown)', withCode('57P01'), 'SQLSTATE 57P01'],
    ['server starting up or shutting down (cannot_connect_now)', withCode('57P03'), 'SQLSTATE 57P03'],
    ['read-only standby after a failover', withCode('25006'), 'SQLSTATE 25006'],
    ['too many connections', withCode('53300'), 'SQLSTATE 53300'],
    ['statement timeout', withCode('57014'), 'SQLSTATE 57014'],
    ['wrapped cause', new Error('Connection terminated due to connection timeout', { cause: withCode('ETIMEDOUT') }), 'Connection terminated due to connection timeout'],
  ])('%s', (_name, error, reason) => {
    expect(unavailabilityReason(error)).toBe(reason);
  });

  it.each([
    ['unique violation', withCode('23505')],
    ['invalid text representation', withCode('22P02')],
    ['undefined table', withCode('42P01')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['not an error at all', 'ECONNREFUSED'],
  ])('not: %s', (_name, error) => {
    expect(unavailabilityReason(error)).toBeUndefined();
  });
});

describe(`a database closed under running requests (${storageKind})`, () => {
  it('answers 503 temporarily_unavailable, not 500', async () => {
    const log = logCapture();
    const server = await startTestServer({}, log.logger);
    const client = await registerMachineClient(server, {});
    await server.db.close();
    try {
      expectUnavailable(await request(server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } }));
      expectUnavailable(await request(server, 'GET', `/register/${client.client_id}`, { token: client.registration_access_token }));
      expectUnavailable(await postForm(server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) }));
      expect(log.entries().filter((e) => (e.level as number) >= 50)).toEqual([]);
      expect(log.entries().filter((e) => e.msg === 'database unavailable' && e.level === 40)).toHaveLength(3);
    } finally {
      await server.app.close();
      await server.close().catch(() => undefined); // the database is already closed
    }
  });
});

/**
 * Our server on a fresh database reached through a TCP proxy the test controls, with a machine
 * client registered; set up before the describe block's tests and torn down after them.
 */
function serverBehindProxy(log: ReturnType<typeof logCapture>, options: { poolSize: number; readTimeoutMs?: number }) {
  const env = {} as { proxy: TcpProxy; db: Database; server: { url: string; app: FastifyInstance }; schemaDb: Database; client: Record<string, any> };
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const database = await freshDatabase();
    env.schemaDb = database.db;
    drop = database.drop;
    const direct = new URL(database.url!);
    env.proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
    const proxied = new URL(direct);
    proxied.host = `127.0.0.1:${env.proxy.port}`;
    env.db = connectPostgres(proxied.toString(), options.poolSize, log.logger, options.readTimeoutMs === undefined ? {} : { readTimeoutMs: options.readTimeoutMs });
    env.server = await serve(env.db, log.logger);
    env.client = await registerMachineClient(env.server, {});
  });
  afterAll(async () => {
    await env.server.app.close();
    await env.db.close();
    await env.proxy.close();
    await env.schemaDb.close();
    await drop();
  });
  return env;
}

describe.skipIf(storageKind !== 'postgres')('PostgreSQL out of reach, behind a proxy the test controls', () => {
  const log = logCapture();
  const env = serverBehindProxy(log, { poolSize: 4 });

  const countClients = async () => Number((await env.schemaDb.query<{ n: string }>('SELECT count(*) AS n FROM clients'))[0]!.n);
  const register = () => request(env.server, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } });
  const read = () => request(env.server, 'GET', `/register/${env.client.client_id}`, { token: env.client.registration_access_token });
  const token = () => postForm(env.server, '/token', { grant_type: 'client_credentials' }, { authorization: basic(env.client.client_id, env.client.client_secret) });

  afterEach(async () => {
    await env.proxy.mode('up');
    log.clear();
  });

  it('PostgreSQL stopped: registration, RFC 7592 reads and token requests answer 503 with Retry-After, logged as warnings', async () => {
    const before = await countClients();
    await env.proxy.mode('down');
    expectUnavailable(await register());
    expectUnavailable(await read());
    expectUnavailable(await token());
    expect((await request(env.server, 'GET', '/readyz')).status).toBe(503);
    const entries = log.entries();
    expect(entries.filter((e) => (e.level as number) >= 50)).toEqual([]);
    const warnings = entries.filter((e) => e.msg === 'database unavailable');
    expect(warnings).toHaveLength(3);
    for (const warning of warnings) expect(warning).toMatchObject({ level: 40, error: 'temporarily_unavailable', reason: expect.stringMatching(/ECONNREFUSED|ECONNRESET|Connection terminated/) });

    // recovery without a restart; the refused registration left nothing behind
    await env.proxy.mode('up');
    expect((await register()).status).toBe(201);
    expect((await read()).status).toBe(200);
    expect((await token()).status).toBe(200);
    expect(await countClients()).toBe(before + 1);
  });

  it('connections reset under load: every request gets 201 or 503, never 500, and each 201 is stored', async () => {
    const before = await countClients();
    const pending = Array.from({ length: 30 }, (_, i) =>
      new Promise((r) => setTimeout(r, i * 5)).then(() => register()),
    );
    setTimeout(() => void env.proxy.mode('down'), 40);
    const results = await Promise.all(pending);
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 503)).toBe(true);
    expect(statuses).toContain(503);
    await env.proxy.mode('up');
    const created = results.filter((r) => r.status === 201).map((r) => r.body.client_id as string);
    const stored = await env.schemaDb.query<{ client_id: string }>('SELECT client_id FROM clients WHERE client_id = ANY($1::text[])', [created]);
    expect(stored).toHaveLength(created.length);
    expect(await countClients()).toBeGreaterThanOrEqual(before + created.length);
  });

  it('a network partition (packets dropped): 503 once the pool gives up, within its 5 s connect timeout', async () => {
    await env.proxy.mode('blackhole');
    const started = Date.now();
    expectUnavailable(await register());
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 20_000);
});

describe.skipIf(storageKind !== 'postgres')('PostgreSQL stranding established connections (the read timeout)', () => {
  // 1 s instead of 12 s so the test is short; the mechanism is the same
  const READ_TIMEOUT_MS = 1_000;
  const log = logCapture();
  const env = serverBehindProxy(log, { poolSize: 2, readTimeoutMs: READ_TIMEOUT_MS });
  afterEach(async () => {
    // 'up' resets every proxied connection: the pooled ones learn of it asynchronously, and a
    // statement that picks one first fails (ECONNRESET, a 503); the next test starts once the
    // pool answers again
    await env.proxy.mode('up');
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await env.db.ping().then(() => true, () => false)) break;
    }
    log.clear();
  });

  it('a statement on a connection that went silent fails as unavailable once the read timeout passes, and the pool recovers', async () => {
    await env.db.ping(); // a pooled connection, established before the partition
    await env.proxy.mode('stall');
    const started = Date.now();
    const failure = await env.db.query('SELECT 1 AS one').then(
      () => undefined,
      (error: unknown) => error,
    );
    const elapsed = Date.now() - started;
    expect(failure).toBeInstanceOf(DatabaseUnavailableError);
    expect((failure as DatabaseUnavailableError).reason).toBe('Query read timeout');
    expect(elapsed).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(READ_TIMEOUT_MS + 3_000);
    await env.proxy.mode('up');
    expect(await env.db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 20_000);

  it('an RFC 7592 read on a stranded connection answers 503, not a hang', async () => {
    await env.db.ping();
    await env.proxy.mode('stall');
    const started = Date.now();
    expectUnavailable(await request(env.server, 'GET', `/register/${env.client.client_id}`, { token: env.client.registration_access_token }));
    expect(Date.now() - started).toBeLessThan(READ_TIMEOUT_MS + 5_000);
    expect(log.entries().filter((e) => (e.level as number) >= 50)).toEqual([]);
  }, 20_000);

  it('silence with no statement outstanding is not a timeout: idle in the pool, or between the statements of a transaction', async () => {
    await env.db.ping();
    await new Promise((resolve) => setTimeout(resolve, READ_TIMEOUT_MS * 1.5));
    expect(await env.db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const rows = await env.db.transaction(async (tx) => {
      await tx.query('SELECT 1 AS one');
      await new Promise((resolve) => setTimeout(resolve, READ_TIMEOUT_MS * 1.5));
      return tx.query<{ two: number }>('SELECT 2 AS two');
    });
    expect(rows).toEqual([{ two: 2 }]);
    // a statement that itself runs quietly for less than the timeout is not cut either
    expect(await env.db.query<{ slept: string }>('SELECT pg_sleep($1)::text AS slept', [READ_TIMEOUT_MS / 2000])).toEqual([{ slept: '' }]);
  }, 20_000);
});

describe.skipIf(storageKind !== 'postgres')('PostgreSQL failing over: a read-only standby (SQLSTATE 25006)', () => {
  let primary: Awaited<ReturnType<typeof startTestServer>>;
  let standby: { url: string; app: FastifyInstance };
  let standbyDb: Database;
  const log = logCapture();

  beforeAll(async () => {
    primary = await startTestServer();
    const url = new URL(primary.databaseUrl!);
    url.searchParams.set('options', `${url.searchParams.get('options')} -c default_transaction_read_only=on`);
    standbyDb = connectPostgres(url.toString(), 4, log.logger);
    standby = await serve(standbyDb, log.logger);
  });
  afterAll(async () => {
    await standby.app.close();
    await standbyDb.close();
    await primary.close();
  });

  it('writes answer 503 while reads still work', async () => {
    const client = await registerMachineClient(primary, {});
    expectUnavailable(await request(standby, 'POST', '/register', { json: { redirect_uris: ['https://rp.example/cb'] } }));
    const read = await request(standby, 'GET', `/register/${client.client_id}`, { token: client.registration_access_token });
    expect(read.status).toBe(200);
    expect(read.body.client_id).toBe(client.client_id);
    expectUnavailable(await request(standby, 'PUT', `/register/${client.client_id}`, { token: client.registration_access_token, json: { client_id: client.client_id, grant_types: ['client_credentials'] } }));
    expect(log.entries().filter((e) => e.msg === 'database unavailable').map((e) => e.reason)).toEqual(['SQLSTATE 25006', 'SQLSTATE 25006']);
    expect(log.entries().filter((e) => (e.level as number) >= 50)).toEqual([]);
  });
});

it('DatabaseUnavailableError carries the reason only', () => {
  const error = new DatabaseUnavailableError('ECONNREFUSED');
  expect(error.message).toBe('the database is unavailable (ECONNREFUSED)');
});
