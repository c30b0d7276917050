-- The audit trail (issue 8): one row per change, written in the same transaction as the change,
-- and one per refused admin authentication. Field NAMES only: never a secret or token value.
-- `at` is seconds since the epoch, as every other time of this schema; `id` orders rows written
-- in the same second and is the key of the newest-first listing.
CREATE TABLE audit_entries (
  id              bigserial PRIMARY KEY,
  at              bigint NOT NULL,
  action          text NOT NULL,
  actor_type      text NOT NULL,
  -- the admin client, the client itself, the OS user of the CLI; NULL for system and anonymous
  actor_id        text,
  client_id       text,
  source_address  text,
  request_id      text,
  changed_fields  text[] NOT NULL DEFAULT '{}',
  -- a few non-secret facts of the action: a key id, counts of a re-seal, an error code
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  CONSTRAINT details_is_object CHECK (jsonb_typeof(details) = 'object')
);

-- Newest first is the primary key backwards; each filter has its own index in the same order,
-- so a filtered page reads only its rows. The purge and the time filters use `at`.
CREATE INDEX audit_entries_client ON audit_entries (client_id, id DESC);
CREATE INDEX audit_entries_action ON audit_entries (action, id DESC);
CREATE INDEX audit_entries_actor_id ON audit_entries (actor_id, id DESC);
CREATE INDEX audit_entries_actor_type ON audit_entries (actor_type, id DESC);
CREATE INDEX audit_entries_at ON audit_entries (at);
