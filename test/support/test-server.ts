import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { ServerKeyRepository } from '../../src/storage/server-key-repository.js';
import { sealServerKey } from '../../src/tokens/server-keys.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Database } from '../../src/storage/database.js';
import { openEmbedded, type EmbeddedOptions } from '../../src/storage/embedded.js';
import { migrate } from '../../src/storage/migrate.js';
import { connectPostgres } from '../../src/storage/postgres.js';

/**
 * Tests run against real PostgreSQL when TEST_DATABASE_URL is set (each test database in its own
 * schema, so files run in parallel), and against embedded PGlite otherwise.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const storageKind: 'postgres' | 'embedded' = TEST_DATABASE_URL ? 'postgres' : 'embedded';

export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * Test servers start with every rate limit off: many tests register dozens of clients from
 * 127.0.0.1. A test of the limits turns them on in its own env (later keys win).
 */
export const RATE_LIMITS_OFF = { RATE_LIMIT_REGISTER: 'off', RATE_LIMIT_REGISTER_GLOBAL: 'off', RATE_LIMIT_TOKEN: 'off' } as const;

const silent: Logger = pino({ level: 'silent' });

const templateDumps = new Map<string, Promise<Blob>>();

/**
 * Options that make openEmbedded start from the template of global-setup.ts, migrated or not
 * (read once per test file); none when there is no template (runs on PostgreSQL).
 */
export async function embeddedTemplate(state: 'migrated' | 'unmigrated' = 'migrated'): Promise<EmbeddedOptions> {
  const template = inject('embeddedTemplate');
  if (template === null) return {};
  const file = state === 'migrated' ? template.dump : template.unmigratedDump;
  if (!templateDumps.has(file)) templateDumps.set(file, readFile(file).then((bytes) => new Blob([bytes])));
  return { loadDataDir: await templateDumps.get(file)! };
}

/** A fresh, migrated database: a new schema on PostgreSQL, a new in-memory PGlite otherwise. */
export async function freshDatabase(): Promise<{ db: Database; url: string | undefined; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) {
    const db = await openEmbedded(undefined, await embeddedTemplate());
    await migrate(db); // already applied on the template: a quick no-op
    return { db, url: undefined, drop: async () => undefined };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = schemaUrl(schema);
  const db = connectPostgres(url, 10, silent);
  await migrate(db);
  return {
    db,
    url,
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    },
  };
}

/**
 * A second handle on a test server's database: its own pool on PostgreSQL (as another process
 * would have), the same PGlite instance when embedded (PGlite is one backend in one process).
 */
async function sameDatabase(server: TestServer): Promise<{ db: Database; url: string | undefined; drop: () => Promise<void> }> {
  const noop = async () => undefined;
  if (!server.databaseUrl) return { db: { ...server.db, close: noop }, url: undefined, drop: noop };
  return { db: connectPostgres(server.databaseUrl, 10, silent), url: server.databaseUrl, drop: noop };
}

/** A connection string whose sessions use `schema` (libpq `options`, which pg passes on). */
export function schemaUrl(schema: string): string {
  const url = new URL(TEST_DATABASE_URL!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/**
 * Every server holds an RS256 key (SIGNING_KEY_ALGS must include it), and a 2048-bit RSA key costs
 * 100 to 400 ms of CPU to generate, unevenly: at every start of hundreds of test servers that adds
 * up. So global-setup.ts makes one RS256 key pair for the run, and a fresh test server's database
 * gets it under a kid of its own, sealed under TEST_SECRETS_KEY, just before the server starts:
 * the server finds an RS256 key made "now", as if its own first start had made it.
 * Tests of key generation itself build ServerKeys, or serveApp, over freshDatabase().
 * TEST_SEED_RSA_KEY=off turns this off (to measure what it saves).
 */
async function seedRsaKey(db: Database): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const secrets = createSecretBox([Buffer.from(TEST_SECRETS_KEY, 'base64')]);
  await new ServerKeyRepository(db).insert(sealServerKey('RS256', inject('serverRsaKeyPair'), secrets, now, now));
}

export interface TestServer {
  /** Base URL the server listens on, also its issuer unless ISSUER was given. */
  url: string;
  app: FastifyInstance;
  db: Database;
  /** PostgreSQL only: the connection string of this server's schema. */
  databaseUrl: string | undefined;
  config: Config;
  close(): Promise<void>;
}

/**
 * Builds the real app on a real port (127.0.0.1, ephemeral) against a fresh database.
 * `env` holds the server's environment variables, as an operator would set them.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  logger: Logger = silent,
  /** Another instance over this server's database, as a second replica would be. */
  shareDatabaseOf?: TestServer,
): Promise<TestServer> {
  const database = shareDatabaseOf ? await sameDatabase(shareDatabaseOf) : await freshDatabase();
  const probe = await import('node:net').then(
    ({ createServer }) =>
      new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const { port } = s.address() as { port: number };
          s.close(() => resolve(port));
        });
      }),
  );
  const config = loadConfig({ PORT: String(probe), ISSUER: `http://127.0.0.1:${probe}`, SECRETS_KEY: TEST_SECRETS_KEY, ...RATE_LIMITS_OFF, ...env });
  if (!shareDatabaseOf && env.SECRETS_KEY === undefined && process.env.TEST_SEED_RSA_KEY !== 'off') await seedRsaKey(database.db);
  const app = await buildApp(config, { db: database.db, logger });
  await app.listen({ port: probe, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${probe}`,
    app,
    db: database.db,
    databaseUrl: database.url,
    config,
    async close() {
      await app.close();
      await database.db.close();
      await database.drop();
    },
  };
}

/**
 * The real app over a database the test holds itself (to restart the app on it, or to reach it
 * through a proxy), listening on a port of its own. The caller closes the app; the database stays.
 */
export async function serveApp(db: Database, env: Record<string, string>, logger: Logger = silent): Promise<{ url: string; app: FastifyInstance }> {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const app = await buildApp(loadConfig({ PORT: String(port), ISSUER: url, SECRETS_KEY: TEST_SECRETS_KEY, ...RATE_LIMITS_OFF, ...env }), { db, logger });
  await app.listen({ port, host: '127.0.0.1' });
  return { url, app };
}

/** JSON request helper over real HTTP. */
export async function request(
  server: { url: string },
  method: string,
  path: string,
  options: { json?: unknown; body?: string; headers?: Record<string, string>; token?: string } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
