-- Browser sessions of signed-in users (issue 9), shared by every instance. The cookie carries 256
-- random bits; only their SHA-256 is stored, so a copy of this table signs nobody in. Times are
-- seconds since the epoch. A session ends at expires_at (SESSION_MAX_AGE after sign-in), when it
-- has not been seen for SESSION_IDLE_TIMEOUT (last_seen_at is written at most once a minute), or
-- with its user: deleted here by the foreign key, disabled when the session is next used.
-- auth_time and amr are what ID tokens will say about the sign-in (OpenID Connect Core §2).
CREATE TABLE sessions (
  id_hash       bytea PRIMARY KEY,
  user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    bigint NOT NULL,
  last_seen_at  bigint NOT NULL,
  auth_time     bigint NOT NULL,
  amr           text[] NOT NULL,
  expires_at    bigint NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);
