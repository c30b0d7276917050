-- Resource servers (an operator setting): clients that may introspect any access token of this
-- server (RFC 7662 §2.1), which is how a resource server checks reference tokens.
ALTER TABLE clients ADD COLUMN resource_server boolean NOT NULL DEFAULT false;
