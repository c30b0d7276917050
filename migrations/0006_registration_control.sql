-- Registration control (issue 8): named registration policies and operator-issued initial access
-- tokens (RFC 7591 §3). Policies are data, read by every instance on each registration, so a
-- change takes effect without a restart. At most one policy is the default.
CREATE TABLE registration_policies (
  name         text PRIMARY KEY,
  description  text,
  rules        jsonb NOT NULL,
  is_default   boolean NOT NULL DEFAULT false,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL,
  CONSTRAINT policy_name_shape CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  CONSTRAINT policy_rules_object CHECK (jsonb_typeof(rules) = 'object')
);
CREATE UNIQUE INDEX registration_policies_one_default ON registration_policies (is_default) WHERE is_default;

-- Initial access tokens: the token itself is shown once and stored only as a SHA-256 hash. Uses
-- are counted by one conditional UPDATE in the registration's transaction, so a use is spent
-- only when the client is stored, and never more than max_uses of them across instances.
CREATE TABLE initial_access_tokens (
  id           text PRIMARY KEY,
  token_hash   bytea NOT NULL UNIQUE,
  description  text,
  policy_name  text REFERENCES registration_policies (name) ON DELETE SET NULL,
  max_uses     integer,
  uses         integer NOT NULL DEFAULT 0,
  expires_at   bigint,
  revoked_at   bigint,
  created_at   bigint NOT NULL,
  CONSTRAINT max_uses_positive CHECK (max_uses IS NULL OR max_uses >= 1),
  CONSTRAINT uses_within_max CHECK (max_uses IS NULL OR uses <= max_uses)
);
CREATE INDEX initial_access_tokens_listing ON initial_access_tokens (created_at DESC, id DESC);

-- Which token registered a client and which policy it was registered under: RFC 7592 updates are
-- checked against that policy, and the per-token and per-policy client caps count these.
ALTER TABLE clients
  ADD COLUMN initial_access_token_id text,
  ADD COLUMN registration_policy text;
CREATE INDEX clients_initial_access_token_id ON clients (initial_access_token_id) WHERE initial_access_token_id IS NOT NULL;
CREATE INDEX clients_registration_policy ON clients (registration_policy) WHERE registration_policy IS NOT NULL;
