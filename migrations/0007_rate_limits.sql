-- Fixed-window rate-limit counters of POST /register, shared by every instance: one row per key
-- (a client address, or the global ceiling) with its count and the end of its window, in
-- milliseconds since the epoch. A request counts through one upsert; rows whose window has ended
-- are taken over by the next request or deleted by the background purge (through the index).
-- UNLOGGED: no WAL for a write on every registration; after a crash or on a promoted standby the
-- counters start again from zero, which is harmless for a limiter.
CREATE UNLOGGED TABLE rate_limit_counters (
  key       text PRIMARY KEY,
  count     integer NOT NULL,
  reset_at  bigint NOT NULL
);
CREATE INDEX rate_limit_counters_reset_at ON rate_limit_counters (reset_at);
