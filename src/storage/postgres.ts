import pg from 'pg';
import type { Logger } from 'pino';
import type { Database, Queryable } from './database.js';

export function connectPostgres(url: string, poolSize: number, log: Logger): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // A database that does not answer must fail the request (and /readyz), not hang it.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 10_000,
    application_name: 'oidc-registrar',
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (error) => log.warn({ err: error }, 'idle PostgreSQL connection failed'));

  const run = async <Row extends object>(on: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) =>
    (await on.query<Row>(sql, params as unknown[] | undefined)).rows;

  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    exec: async (sql) => void (await pool.query(sql)),
    ping: async () => void (await pool.query('SELECT 1')),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: (sql, params) => run(client, sql, params),
          exec: async (sql) => void (await client.query(sql)),
        };
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
