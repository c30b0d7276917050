-- Assertion ids already used (RFC 7523 §3 item 7): a row per (client, jti) until the assertion
-- expires. The primary key makes "first use wins" one atomic insert; the expiry index lets the
-- purge find old rows without scanning the table.
CREATE TABLE client_assertion_jtis (
  client_id   text NOT NULL,
  jti         text NOT NULL,
  expires_at  bigint NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis (expires_at);

-- The server's signing keys, shared by every instance. The private JWK is AES-256-GCM ciphertext
-- under SECRETS_KEY. A key is published from created_at, signs from activates_at until a newer
-- key activates, and stays published until the tokens it signed have expired.
CREATE TABLE server_keys (
  kid                 text PRIMARY KEY,
  alg                 text NOT NULL,
  public_jwk          jsonb NOT NULL,
  private_ciphertext  text NOT NULL,
  created_at          bigint NOT NULL,
  activates_at        bigint NOT NULL
);
CREATE INDEX server_keys_activates_at ON server_keys (activates_at);

-- Revoked access tokens (RFC 7009), kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
  jti         text PRIMARY KEY,
  client_id   text NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- Cached parsed keys are tied to this version: any update of a client bumps it.
ALTER TABLE clients ADD COLUMN version integer NOT NULL DEFAULT 1;
