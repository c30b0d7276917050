/**
 * The database could not be reached or cannot take writes right now: the request may succeed if
 * repeated shortly, so callers answer 503, not 500. Storage raises it; it knows nothing of HTTP.
 */
export class DatabaseUnavailableError extends Error {
  /** Why, for the log: a SQLSTATE, a socket error code or the driver's message. Never a parameter. */
  readonly reason: string;

  constructor(reason: string) {
    super(`the database is unavailable (${reason})`);
    this.name = 'DatabaseUnavailableError';
    this.reason = reason;
  }
}

/**
 * SQLSTATEs that say "not now" rather than "never": the connection or server is going away or
 * coming up (class 08, 57P01-57P03), a failover has left us on a read-only standby (25006, as
 * Patroni clusters show for a few seconds), the server is out of connections or resources, or a
 * statement ran past statement_timeout (57014).
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '25006', '53000', '53100', '53200', '53300', '53400', '57014', '58000', '58030']);

/** Socket errors on the way to the database. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** What pg, pg-pool and PGlite say, without a code, when there is no usable connection. */
const DRIVER_MESSAGES = [
  /^timeout exceeded when trying to connect$/,
  /^Connection terminated/,
  /^Cannot use a pool after calling end on the pool$/,
  /is not queryable$/,
  /^Query read timeout$/,
  /^PGlite is closed$/,
];

/** The reason `error` means the database is unavailable, or undefined for any other error. */
export function unavailabilityReason(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return code;
    if (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code)) return `SQLSTATE ${code}`;
  }
  // a connection attempt to several addresses fails with all of their errors
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const reason = unavailabilityReason(inner);
      if (reason !== undefined) return reason;
    }
  }
  if (DRIVER_MESSAGES.some((pattern) => pattern.test(error.message))) return error.message;
  return error.cause !== undefined ? unavailabilityReason(error.cause) : undefined;
}

/** `error` as a DatabaseUnavailableError when it is one, else unchanged. */
export function classifyDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const reason = unavailabilityReason(error);
  return reason === undefined ? error : new DatabaseUnavailableError(reason);
}
