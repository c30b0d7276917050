/**
 * The one interface the repositories use, whichever PostgreSQL is behind it: a server reached
 * through pg, or the embedded PGlite. SQL is written once and runs on both.
 */
export interface Queryable {
  query<Row extends object>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface QueryOptions {
  /**
   * Names the statement so that each connection parses and plans it once, then only binds and
   * executes it: for the few statements on a hot path. One name per SQL text. PGlite, one
   * connection in this process, has nothing to gain and ignores it.
   */
  prepareAs?: string;
}

/** How busy the connections are: what the db_pool_connections gauges report. */
export interface PoolConnections {
  /** Connections open. */
  total: number;
  /** Of those, not running a statement. */
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'embedded';
  /** Resolves when the database answers a trivial query (readiness). */
  ping(): Promise<void>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Read when metrics are scraped; never on a request. */
  connections(): PoolConnections;
  close(): Promise<void>;
}
