import pg from 'pg';
import type { Logger } from 'pino';
import type { Database, Queryable, QueryOptions } from './database.js';
import { classifyDatabaseError, DatabaseUnavailableError, unavailabilityReason } from './unavailable.js';

/** Server-side limit on one statement; the client-side read timeout sits just above it. */
const STATEMENT_TIMEOUT_MS = 10_000;

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
  const run = async <Row extends object>(on: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[], options?: QueryOptions) => {
    try {
      const values = params as unknown[] | undefined;
      return (await (options?.prepareAs === undefined ? on.query<Row>(sql, values) : on.query<Row>({ name: options.prepareAs, text: sql, ...(values ? { values } : {}) }))).rows;
    } catch (error) {
      throw classifyDatabaseError(error);
    }
  };

  return {
    kind: 'postgres',
    query: (sql, params, options) => run(pool, sql, params, options),
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
          query: (sql, params, options) => run(client, sql, params, options),
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
