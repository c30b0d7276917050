-- A public identifier for each browser session (issue 9, RP-initiated logout): the `sid` claim of
-- the ID tokens issued in the session (OpenID Connect Front-Channel/Back-Channel Logout §1, used
-- by RP-Initiated Logout to tell whether an id_token_hint belongs to the current session). It is
-- random and unrelated to the cookie: neither the cookie value nor its hash ever leaves the server.
-- Sessions from before this migration get one of their own.
ALTER TABLE sessions ADD COLUMN sid text;
UPDATE sessions SET sid = replace(gen_random_uuid()::text, '-', '');
ALTER TABLE sessions ALTER COLUMN sid SET NOT NULL;
CREATE UNIQUE INDEX sessions_sid ON sessions (sid);
