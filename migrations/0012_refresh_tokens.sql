-- Refresh tokens (issue 9; RFC 6749 §6, OpenID Connect Core §11/§12, RFC 9700 §4.14) and resource
-- indicators (RFC 8707). Times are seconds since the epoch.
--
-- A family is one authorization: what a code exchange granted (client, user, scope, resources) and
-- how the user signed in (sid, auth_time, amr), which every refresh of it repeats in its ID token,
-- with the request's claims parameter (OpenID Connect Core §5.5: what its ID tokens and UserInfo add).
-- It ends at expires_at (REFRESH_TOKEN_MAX_AGE after the sign-in) however much it is used, and when
-- it is revoked: a rotated token used again, RFC 7009 revocation, the operator revoking the user's
-- consent, or a replay of the authorization code it came from (code_hash). Every rotation writes
-- the family row too, so that a rotation and a revocation of the same family happen one after the
-- other, never interleaved.
CREATE TABLE refresh_token_families (
  id                  text PRIMARY KEY,
  client_id           text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
  user_id             text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scope               text NOT NULL,
  resources           text[] NOT NULL,
  sid                 text NOT NULL,
  auth_time           bigint NOT NULL,
  amr                 text[] NOT NULL,
  auth_time_required  boolean NOT NULL,
  claims              jsonb,
  code_hash           bytea,
  created_at          bigint NOT NULL,
  expires_at          bigint NOT NULL,
  rotated_at          bigint,
  revoked_at          bigint
);
CREATE INDEX refresh_token_families_user_client ON refresh_token_families (user_id, client_id);
CREATE INDEX refresh_token_families_code_hash ON refresh_token_families (code_hash);
CREATE INDEX refresh_token_families_expires_at ON refresh_token_families (expires_at);

-- The tokens of a family: 256 random bits, stored only as their SHA-256. Each is used once
-- (used_at): the use answers with the next one. expires_at is the idle limit (REFRESH_TOKEN_LIFETIME
-- after it was issued, never past the family's end). A used token is kept until then, so that its
-- reuse is recognised and revokes the family, with the access tokens the family issued: each row
-- holds the jti of the access token issued beside it.
CREATE TABLE refresh_tokens (
  token_hash               bytea PRIMARY KEY,
  family_id                text NOT NULL REFERENCES refresh_token_families (id) ON DELETE CASCADE,
  created_at               bigint NOT NULL,
  expires_at               bigint NOT NULL,
  used_at                  bigint,
  access_token_jti         text NOT NULL,
  access_token_expires_at  bigint NOT NULL
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- RFC 8707: the resources an authorization request named (each one of RESOURCE_INDICATORS) travel
-- with its code; the token request may narrow them. Codes from before this migration named none.
ALTER TABLE authorization_codes ADD COLUMN resources text[] NOT NULL DEFAULT '{}';
