-- Pairwise subject identifiers (OpenID Connect Core 1.0 §8.1, issue 9): a client registered with
-- subject_type pairwise sees each user under a `sub` of its sector alone,
-- base64url(HMAC-SHA-256(salt, sector || ' ' || user id)), so that clients of different sectors
-- cannot join their users up.
--
-- The salt: one random 256-bit value for the whole deployment, made by the first instance that
-- starts after this migration (INSERT ... ON CONFLICT DO NOTHING, then read back, so instances
-- starting together agree on the one that won). It is not derived from SECRETS_KEY, which rotates:
-- a new salt would change every pairwise `sub` a relying party knows. It is stored in the clear,
-- as the subjects below are: whoever reads this database reads the mapping anyway.
CREATE TABLE pairwise_salt (
  only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  salt        bytea NOT NULL CHECK (octet_length(salt) = 32),
  created_at  bigint NOT NULL
);

-- The way back from a pairwise `sub` to the user: written when the sub is first handed to a client
-- of the sector (the token endpoint), read when the client presents it (UserInfo, an id_token_hint
-- at logout). The HMAC cannot be reversed; this row is how the server finds the user again.
CREATE TABLE pairwise_subjects (
  sector      text NOT NULL,
  subject     text NOT NULL,
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  bigint NOT NULL,
  PRIMARY KEY (sector, subject)
);
-- the cascade from a deleted user
CREATE INDEX pairwise_subjects_user_id ON pairwise_subjects (user_id);
