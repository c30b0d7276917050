import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClientAuthFailure } from '../client-auth/authenticate-client.js';
import type { OutboundFailure } from '../outbound/fetch-json.js';
import type { Database, PoolConnections } from '../storage/database.js';
import type { fetchJson } from '../outbound/fetch-json.js';
import { observedDatabase, type StatementKind } from './database.js';

/**
 * Every series of this server starts with this. Node's process, heap and event-loop series keep
 * their standard names (process_*, nodejs_*), which ready-made dashboards look for.
 */
export const METRIC_PREFIX = 'oidc_registrar_';

/**
 * How a client came to be: the `mode` label of registrations_total. `open` and `protected` are
 * POST /register without and with an initial access token required; `admin` is the admin API.
 */
export const REGISTRATION_METRIC_MODES = ['open', 'protected', 'admin'] as const;
export type RegistrationMetricMode = (typeof REGISTRATION_METRIC_MODES)[number];

/** `method` label of client_authentications_total: what the request presented, `jwt` while the client is unknown. */
export type ClientAuthMethodLabel = 'none' | 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'jwt';

/** `result` label of client_authentications_total. */
export type ClientAuthResult = 'success' | ClientAuthFailure;

/** `result` label of outbound_fetches_total. */
export type OutboundFetchResult = 'ok' | OutboundFailure;

/** `route` label of a request no route matched: one value, whatever the URL, so the series stay few. */
export const UNMATCHED_ROUTE = 'unmatched';

export type FetchJson = typeof fetchJson;

/**
 * What the rest of the server records. With METRICS=off it is NO_METRICS, whose methods do
 * nothing and whose wrappers hand back what they were given: the hot paths pay one call at most
 * and carry no `if (metrics enabled)` of their own.
 */
export interface Metrics {
  /** The registry to expose, or undefined when metrics are off. */
  readonly registry: Registry | undefined;
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** The seam the registration routes call on each 201. */
  registrationCompleted(mode: RegistrationMetricMode): void;
  clientAuthentication(method: ClientAuthMethodLabel, result: ClientAuthResult): void;
  tokenIssued(grantType: string, format: string): void;
  tokenIntrospected(active: boolean): void;
  tokenRevoked(): void;
  /** The database with each statement timed; the same object when metrics are off. */
  observeDatabase(db: Database): Database;
  /** The outbound fetcher with each fetch counted and timed; the same function when off. */
  observeFetch(fetch: FetchJson): FetchJson;
}

const nothing = (): void => undefined;

export const NO_METRICS: Metrics = {
  registry: undefined,
  httpRequest: nothing,
  registrationCompleted: nothing,
  clientAuthentication: nothing,
  tokenIssued: nothing,
  tokenIntrospected: nothing,
  tokenRevoked: nothing,
  observeDatabase: (db) => db,
  observeFetch: (fetch) => fetch,
};

/** One value per key, made on first use: the label children of a metric (few, fixed sets). */
function memo<T>(make: (key: string) => T): (key: string) => T {
  const made = new Map<string, T>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}

/** Database statements take milliseconds; the default buckets start at 5 ms. */
const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Requests and outbound fetches: prom-client's defaults (5 ms to 10 s) fit them. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * One registry per app instance (tests build many apps in one process; the global default
 * registry would mix them), with Node's process, heap and event-loop series on it.
 * `connections` is read at scrape time for the pool gauges.
 */
export function createMetrics(connections: () => PoolConnections): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;

  const requests = new Counter({ name: name('http_requests_total'), help: 'HTTP requests answered, by method, route template and status.', labelNames: ['method', 'route', 'status'] as const, registers });
  const requestDuration = new Histogram({ name: name('http_request_duration_seconds'), help: 'Time from receiving a request to sending its response, by method and route template.', labelNames: ['method', 'route'] as const, buckets: REQUEST_BUCKETS, registers });
  const rateLimited = new Counter({ name: name('rate_limited_total'), help: 'Requests refused with 429 Too Many Requests, by route template.', labelNames: ['route'] as const, registers });
  const registrations = new Counter({ name: name('registrations_total'), help: 'Clients registered, by how: open or protected dynamic registration, or the admin API.', labelNames: ['mode'] as const, registers });
  const authentications = new Counter({ name: name('client_authentications_total'), help: 'Client authentications at the token, introspection and revocation endpoints, by method and result (success or why it failed).', labelNames: ['method', 'result'] as const, registers });
  const tokens = new Counter({ name: name('tokens_issued_total'), help: 'Access tokens issued, by grant type and format.', labelNames: ['grant_type', 'format'] as const, registers });
  const introspections = new Counter({ name: name('introspections_total'), help: 'Token introspections answered, by whether the token was active.', labelNames: ['active'] as const, registers });
  const revocations = new Counter({ name: name('revocations_total'), help: 'Token revocation requests answered.', registers });
  const fetches = new Counter({ name: name('outbound_fetches_total'), help: 'Outbound fetches of client-supplied URLs (jwks_uri), by result.', labelNames: ['result'] as const, registers });
  const fetchDuration = new Histogram({ name: name('outbound_fetch_duration_seconds'), help: 'Time taken by outbound fetches, whatever their result.', buckets: REQUEST_BUCKETS, registers });
  const queryDuration = new Histogram({ name: name('db_query_duration_seconds'), help: 'Time taken by database statements, by statement kind and outcome.', labelNames: ['kind', 'outcome'] as const, buckets: QUERY_BUCKETS, registers });
  new Gauge({
    name: name('db_pool_connections'),
    help: 'Database connections of this instance by state: total open, idle, and requests waiting for one (embedded: one connection).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const now = connections();
      this.set({ state: 'total' }, now.total);
      this.set({ state: 'idle' }, now.idle);
      this.set({ state: 'waiting' }, now.waiting);
    },
  });

  // prom-client hashes a label object on every call; each of the few label sets gets its child once
  const queryChild = memo((key: string) => queryDuration.labels({ kind: key.slice(1), outcome: key[0] === '1' ? 'ok' : 'error' }));
  const requestChild = memo((key: string) => {
    const [method, status, route] = key.split('\0') as [string, string, string];
    return requests.labels({ method, route, status });
  });
  const durationChild = memo((key: string) => {
    const [method, route] = key.split('\0') as [string, string];
    return requestDuration.labels({ method, route });
  });
  const recordQuery = (kind: StatementKind, ok: boolean, seconds: number) => queryChild(`${ok ? 1 : 0}${kind}`).observe(seconds);

  return {
    registry,
    httpRequest(method, route, status, seconds) {
      // NUL is in no method, status or route template: the key splits back apart
      requestChild(`${method}\0${status}\0${route}`).inc();
      durationChild(`${method}\0${route}`).observe(seconds);
      if (status === 429) rateLimited.inc({ route });
    },
    registrationCompleted: (mode) => registrations.inc({ mode }),
    clientAuthentication: (method, result) => authentications.inc({ method, result }),
    tokenIssued: (grantType, format) => tokens.inc({ grant_type: grantType, format }),
    tokenIntrospected: (active) => introspections.inc({ active: String(active) }),
    tokenRevoked: () => revocations.inc(),
    observeDatabase: (db) => observedDatabase(db, recordQuery),
    observeFetch:
      (fetch) =>
      async (...args) => {
        const started = process.hrtime.bigint();
        let result: OutboundFetchResult = 'ok';
        try {
          return await fetch(...args);
        } catch (error) {
          result = (error as { failure?: OutboundFailure }).failure ?? 'network';
          throw error;
        } finally {
          fetches.inc({ result });
          fetchDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        }
      },
  };
}
