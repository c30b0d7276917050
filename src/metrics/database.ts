import type { Database, Queryable } from '../storage/database.js';

/** The `kind` label of db_query_duration_seconds: a fixed set, whatever the SQL. */
export const STATEMENT_KINDS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'OTHER'] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export type RecordQuery = (kind: StatementKind, ok: boolean, seconds: number) => void;

/** The statement's first keyword; WITH, BEGIN, scripts and the rest are OTHER. */
export function statementKind(sql: string): StatementKind {
  const keyword = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase();
  return keyword === 'SELECT' || keyword === 'INSERT' || keyword === 'UPDATE' || keyword === 'DELETE' ? keyword : 'OTHER';
}

async function timed<T>(record: RecordQuery, sql: string, run: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  let ok = false;
  try {
    const result = await run();
    ok = true;
    return result;
  } finally {
    record(statementKind(sql), ok, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

function observedQueryable(db: Queryable, record: RecordQuery): Queryable {
  return {
    query: (sql, params, options) => timed(record, sql, () => db.query(sql, params, options)),
    exec: (sql) => timed(record, sql, () => db.exec(sql)),
  };
}

/**
 * The database with every statement timed, inside transactions too: instrumented once here, so
 * no repository knows about metrics.
 */
export function observedDatabase(db: Database, record: RecordQuery): Database {
  return {
    ...observedQueryable(db, record),
    kind: db.kind,
    ping: () => db.ping(),
    connections: () => db.connections(),
    transaction: (work) => db.transaction((tx) => work(observedQueryable(tx, record))),
    close: () => db.close(),
  };
}
