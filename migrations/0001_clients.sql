-- Registered clients (RFC 7591). Metadata is kept as validated JSON; the two credentials are
-- never stored in the clear: the client secret is AES-256-GCM ciphertext (it must stay
-- recoverable to verify HMAC assertions), the registration access token only as a SHA-256 hash.
CREATE TABLE clients (
  client_id                 text PRIMARY KEY,
  metadata                  jsonb NOT NULL,
  secret_ciphertext         text,
  secret_expires_at         bigint NOT NULL DEFAULT 0,
  registration_token_hash   bytea NOT NULL,
  client_id_issued_at       bigint NOT NULL,
  updated_at                timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT client_id_shape CHECK (client_id ~ '^[A-Za-z0-9_-]{16,128}$'),
  CONSTRAINT metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);
