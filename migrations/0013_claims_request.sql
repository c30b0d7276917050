-- The claims request parameter (issue 9, OpenID Connect Core §5.5).
--
-- A code carries what its authorization request asked for in `claims` (the canonical JSON of
-- src/protocol/claims-request.ts; NULL when nothing was asked): the token endpoint puts the
-- requested id_token claims in the ID token, and the access token names the requested userinfo
-- claims for the UserInfo endpoint. Waiting authorization requests keep it inside their `request`
-- document, which needs no column.
ALTER TABLE authorization_codes ADD COLUMN claims jsonb;

-- Claims a user agreed to release to a client beyond the scopes granted (space-separated claim
-- names, sorted; empty when none): a claims request asking for a claim outside its scopes needs
-- consent to that claim, remembered like consent to scopes.
ALTER TABLE consents ADD COLUMN claims text NOT NULL DEFAULT '';
