-- Operator settings (issue 7): never accepted from a dynamic registration request. NULL in the
-- two token settings means "the server's default" (ACCESS_TOKEN_FORMAT, ACCESS_TOKEN_LIFETIME),
-- so that a changed default reaches every client that never had its own value.
ALTER TABLE clients
  ADD COLUMN access_token_format   text,
  ADD COLUMN access_token_lifetime integer,
  ADD COLUMN expires_at            bigint,
  ADD COLUMN disabled              boolean NOT NULL DEFAULT false,
  ADD COLUMN admin                 boolean NOT NULL DEFAULT false,
  ADD COLUMN created_via           text NOT NULL DEFAULT 'dynamic_registration',
  -- written at most once a minute per client and instance, never on every token request
  ADD COLUMN last_used_at          bigint,
  -- after a rotation with a grace period, the previous secret still authenticates until then
  ADD COLUMN previous_secret_ciphertext text,
  ADD COLUMN previous_secret_expires_at bigint,
  ADD CONSTRAINT access_token_format_value CHECK (access_token_format IN ('jwt', 'reference')),
  ADD CONSTRAINT access_token_lifetime_range CHECK (access_token_lifetime BETWEEN 1 AND 86400),
  ADD CONSTRAINT created_via_value CHECK (created_via IN ('dynamic_registration', 'admin_api', 'bootstrap'));

-- The admin list: newest first, paged by (client_id_issued_at, client_id) without OFFSET.
CREATE INDEX clients_listing ON clients (client_id_issued_at DESC, client_id DESC);

-- Reference access tokens: opaque to the holder, stored only as a SHA-256 hash with their claims;
-- valid through introspection, gone on revocation or when their client is deleted.
CREATE TABLE reference_tokens (
  token_hash  bytea PRIMARY KEY,
  client_id   text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  claims      jsonb NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX reference_tokens_expires_at ON reference_tokens (expires_at);
CREATE INDEX reference_tokens_client_id ON reference_tokens (client_id);
