import pg from 'pg';
import type { Logger } from 'pino';
import type { Database, Queryable } from './database.js';
import { classifyDatabaseError, DatabaseUnavailableError, unavailabilityReason } from './unavailable.js';

/** Server-side limit on one statement; the client-side read timeout sits just above it. */
const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * Statements with parameters run as named prepared statements: PostgreSQL parses and plans one
 * once per connection instead of on every execution (on this 2-core machine the database shares
 * the CPU with the server, and a key lookup's parse and plan cost more than its execution).
 * The names are made per statement text, so one name never means two statements; dynamic SQL
 * (the admin list's filters) has few variants, and past this many texts the rest run unnamed,
 * so the server-side cache per connection stays bounded.
 */
const MAX_PREPARED_STATEMENTS = 200;
const statementNames = new Map<string, string>();
/**
 * Statements whose prepared plan went stale: a migration run by another instance during a
 * rolling upgrade changed the columns a `SELECT *` returns, and PostgreSQL refuses the prepared
 * statement ("cached plan must not change result type", 0A000). They run unnamed from then on.
 */
const unnamed = new Set<string>();
const STALE_PLAN = '0A000';

function statementName(sql: string): string | undefined {
  if (unnamed.has(sql)) return undefined;
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_PREPARED_STATEMENTS) {
    name = `oidc_registrar_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

export function connectPostgres(url: string, poolSize: number, log: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // A database that does not answer must fail the request (and /readyz), not hang it.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    // a connection whose peer vanished without a reset (a network partition) answers nothing:
    // statement_timeout cannot fire there, so the client gives up on its own
    query_timeout: STATEMENT_TIMEOUT_MS + 2_000,
    application_name: 'oidc-registrar',
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (error) => log.warn({ reason: unavailabilityReason(error) ?? error.message }, 'idle PostgreSQL connection failed'));

  /** Driver errors that mean "no database right now" become DatabaseUnavailableError. */
  const run = async <Row extends object>(on: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    try {
      if (params === undefined || params.length === 0) return (await on.query<Row>(sql)).rows;
      const name = statementName(sql);
      try {
        return (await on.query<Row>({ text: sql, values: params as unknown[], ...(name === undefined ? {} : { name }) })).rows;
      } catch (error) {
        if (name === undefined || (error as { code?: unknown }).code !== STALE_PLAN) throw error;
        unnamed.add(sql);
        // outside a transaction the statement can simply run again; inside one, the transaction
        // has failed and its caller's error handling decides (once: the text is unnamed now)
        if (on !== pool) throw error;
        return (await on.query<Row>(sql, params as unknown[])).rows;
      }
    } catch (error) {
      throw classifyDatabaseError(error);
    }
  };

  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    exec: async (sql) => void (await run(pool, sql)),
    ping: async () => void (await run(pool, 'SELECT 1')),
    async transaction(work) {
      const client = await pool.connect().catch((error: unknown) => {
        throw classifyDatabaseError(error);
      });
      let broken = false;
      // A checked-out connection has no listener of the pool's: a reset socket would emit 'error'
      // with nobody listening and crash the process. The query in flight fails on its own; this
      // only marks the connection for destruction.
      const onError = (error: Error) => {
        broken = true;
        log.warn({ reason: unavailabilityReason(error) ?? error.message }, 'PostgreSQL connection failed during a transaction');
      };
      client.on('error', onError);
      try {
        await run(client, 'BEGIN');
        const tx: Queryable = {
          query: (sql, params) => run(client, sql, params),
          exec: async (sql) => void (await run(client, sql)),
        };
        const result = await work(tx);
        await run(client, 'COMMIT');
        return result;
      } catch (error) {
        broken = error instanceof DatabaseUnavailableError;
        if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
        throw error;
      } finally {
        // a connection that failed is destroyed, not handed to the next request; it keeps the
        // listener then, for the errors a dying socket may still raise
        if (!broken) client.removeListener('error', onError);
        client.release(broken);
      }
    },
    connections: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}
