-- Local user accounts (issue 9), managed by operators through the admin API. The id is random and
-- never changes: it becomes the `sub` of ID tokens, so a renamed user stays the same subject.
-- Usernames are unique whatever their case (Alice and alice are one account). The password is
-- stored only as an scrypt hash that carries its own parameters (src/users/password.ts).
-- e-mail is a column of its own (found by it later); the other OpenID Connect Core §5.1 claims
-- live in `profile`, validated by the one table of src/users/claims.ts.
CREATE TABLE users (
  id              text PRIMARY KEY,
  username        text NOT NULL,
  password_hash   text NOT NULL,
  email           text,
  email_verified  boolean NOT NULL DEFAULT false,
  profile         jsonb NOT NULL DEFAULT '{}',
  disabled        boolean NOT NULL DEFAULT false,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL,
  version         integer NOT NULL DEFAULT 1,
  CONSTRAINT user_id_shape CHECK (id ~ '^[0-9a-f]{32}$'),
  CONSTRAINT username_shape CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$'),
  CONSTRAINT user_profile_object CHECK (jsonb_typeof(profile) = 'object')
);
CREATE UNIQUE INDEX users_username_unique ON users (lower(username));
CREATE INDEX users_listing ON users (created_at DESC, id DESC);
