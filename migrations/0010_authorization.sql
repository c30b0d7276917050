-- The authorization endpoint (issue 9): requests waiting for the user, authorization codes and
-- remembered consent. Times are seconds since the epoch.
--
-- A validated authorization request that needs the user (sign-in, consent) waits here, server-side,
-- under the hash of a random 256-bit handle; only the handle travels through the login and consent
-- pages. It lives a few minutes and is deleted when answered.
CREATE TABLE authorization_requests (
  id_hash     bytea PRIMARY KEY,
  client_id   text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  request     jsonb NOT NULL,
  created_at  bigint NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX authorization_requests_expires_at ON authorization_requests (expires_at);

-- Authorization codes (RFC 6749 §4.1.2, RFC 9700 §2.1.1): 256 random bits, stored only as their
-- SHA-256; single use (used_at), 60 seconds. Bound to the client, the redirect URI, the PKCE
-- challenge, scope, nonce, user and session. The first use records the jti of the access token it
-- issued, so that a second use can revoke it (RFC 6749 §4.1.2).
CREATE TABLE authorization_codes (
  code_hash              bytea PRIMARY KEY,
  client_id              text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  user_id                text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  redirect_uri           text NOT NULL,
  redirect_uri_given     boolean NOT NULL,
  code_challenge         text,
  scope                  text NOT NULL,
  nonce                  text,
  sid                    text NOT NULL,
  auth_time              bigint NOT NULL,
  amr                    text[] NOT NULL,
  auth_time_required     boolean NOT NULL,
  created_at             bigint NOT NULL,
  expires_at             bigint NOT NULL,
  used_at                bigint,
  access_token_jti       text,
  access_token_expires_at bigint
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- Consent a user gave a client, per scope set: a request for scopes within `scope` needs no new
-- consent. Operators revoke it through the admin API.
CREATE TABLE consents (
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  client_id   text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  scope       text NOT NULL,
  granted_at  bigint NOT NULL,
  PRIMARY KEY (user_id, client_id)
);
