import { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database, Queryable } from './database.js';
import { classifyDatabaseError, DatabaseUnavailableError, unavailabilityReason } from './unavailable.js';

/** Server-side limit on one statement; the client-side read timeout sits just above it. */
const STATEMENT_TIMEOUT_MS = 10_000;
/**
 * How long a connection with a statement outstanding may stay silent before it is given up: a
 * live database answers within statement_timeout, so past this the peer is gone without a reset
 * (a network partition), where statement_timeout cannot fire.
 */
const READ_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 2_000;

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

/** Set on a connection while a statement is outstanding on it (a mark, not a Set: lifecycle.ts says why). */
const OUTSTANDING = Symbol('statement outstanding');
type Watched = { [OUTSTANDING]?: boolean };

export function connectPostgres(url: string, poolSize: number, log: Logger, options: { readTimeoutMs?: number } = {}): Database {
  const readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // A database that does not answer must fail the request (and /readyz), not hang it.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    application_name: 'oidc-registrar',
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (error) => log.warn({ reason: unavailabilityReason(error) ?? error.message }, 'idle PostgreSQL connection failed'));

  // The read timeout is the socket's own inactivity timer, armed once per connection and acted on
  // only while a statement is outstanding (idle in the pool, or between a transaction's
  // statements, silence is normal). Not pg's query_timeout: its per-query timer closes over the
  // query, and on Node 20 that kept every query's rows and the request behind them alive until
  // the next full GC (measured: ~1 MB promoted per scavenge at 3k lookups/s, 3 ms pauses).
  pool.on('connect', (client) => {
    // the statement outstanding gets the error itself, and its connection is destroyed on
    // release; this only keeps an 'error' event on a checked-out connection from crashing the
    // process (pool.query added such a listener around every statement)
    client.on('error', () => {});
    const socket = client.connection.stream;
    if (!(socket instanceof Socket)) return;
    socket.setTimeout(readTimeoutMs);
    socket.on('timeout', () => {
      if ((client as Watched)[OUTSTANDING] === true) socket.destroy(new Error('Query read timeout'));
    });
  });

  /** One statement on `client`, watched by the read timeout while it is outstanding. */
  const send = async <Row extends object>(client: pg.PoolClient, inTransaction: boolean, sql: string, params?: readonly unknown[]) => {
    (client as Watched)[OUTSTANDING] = true;
    try {
      if (params === undefined || params.length === 0) return (await client.query<Row>(sql)).rows;
      const name = statementName(sql);
      try {
        return (await client.query<Row>({ text: sql, values: params as unknown[], ...(name === undefined ? {} : { name }) })).rows;
      } catch (error) {
        if (name === undefined || (error as { code?: unknown }).code !== STALE_PLAN) throw error;
        unnamed.add(sql);
        // outside a transaction the statement can simply run again; inside one, the transaction
        // has failed and its caller's error handling decides (once: the text is unnamed now)
        if (inTransaction) throw error;
        return (await client.query<Row>(sql, params as unknown[])).rows;
      }
    } finally {
      (client as Watched)[OUTSTANDING] = false;
    }
  };

  /**
   * A statement on a pooled connection, as pool.query runs it (a connection that saw an error is
   * destroyed, not reused). Driver errors that mean "no database right now" become
   * DatabaseUnavailableError.
   */
  const run = async <Row extends object>(sql: string, params?: readonly unknown[]) => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw classifyDatabaseError(error);
    }
    let failure: Error | undefined;
    try {
      return await send<Row>(client, false, sql, params);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw classifyDatabaseError(error);
    } finally {
      client.release(failure);
    }
  };
  const runInTransaction = async <Row extends object>(client: pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    try {
      return await send<Row>(client, true, sql, params);
    } catch (error) {
      throw classifyDatabaseError(error);
    }
  };

  return {
    kind: 'postgres',
    query: (sql, params) => run(sql, params),
    exec: async (sql) => void (await run(sql)),
    ping: async () => void (await run('SELECT 1')),
    async transaction(work) {
      const client = await pool.connect().catch((error: unknown) => {
        throw classifyDatabaseError(error);
      });
      let broken = false;
      // The statement in flight fails on its own; this marks the connection for destruction when
      // it fails between two statements, with none in flight.
      const onError = (error: Error) => {
        broken = true;
        log.warn({ reason: unavailabilityReason(error) ?? error.message }, 'PostgreSQL connection failed during a transaction');
      };
      client.on('error', onError);
      try {
        await runInTransaction(client, 'BEGIN');
        const tx: Queryable = {
          query: (sql, params) => runInTransaction(client, sql, params),
          exec: async (sql) => void (await runInTransaction(client, sql)),
        };
        const result = await work(tx);
        await runInTransaction(client, 'COMMIT');
        return result;
      } catch (error) {
        broken = error instanceof DatabaseUnavailableError;
        if (!broken) await send(client, true, 'ROLLBACK').catch(() => (broken = true));
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
