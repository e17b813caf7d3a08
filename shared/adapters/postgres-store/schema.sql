-- The session log's schema (docs/design.md#session-log-and-events). Run by the adapter only when something below is missing,
-- so a DBA may instead run this file as the owner and grant the gateway's role nothing but
-- SELECT and INSERT on both tables: Postgres privileges then make the log create-only, as IAM
-- does for Firestore. The adapter never needs more (no UPDATE, no DELETE, no row locks).

-- Two gateways starting at once would race on CREATE ... IF NOT EXISTS (it is not atomic
-- against a concurrent creator); this lock makes the second wait and then find everything there.
SELECT pg_advisory_xact_lock(hashtext('gatehouse.session-log.schema'));

-- One row per session, written with its first event: what `sessions list` and evidence export
-- page through, without reading every event.
CREATE TABLE IF NOT EXISTS gatehouse_sessions (
  session_id  text PRIMARY KEY,
  started_at  timestamptz NOT NULL,
  subject     text,
  email       text,
  connection  text,
  sql         text
);
CREATE INDEX IF NOT EXISTS gatehouse_sessions_started_idx
  ON gatehouse_sessions (started_at, session_id);
CREATE INDEX IF NOT EXISTS gatehouse_sessions_subject_idx
  ON gatehouse_sessions (subject, started_at, session_id);

-- `data` is text, not jsonb: it holds the exact JSON the hash was computed over. jsonb refuses
-- "\u0000" and lone surrogates (a hostile request could then keep itself out of the log) and
-- rewrites numbers; text gives back what was written, so verification needs no trust in a
-- normaliser. Query it with `data::jsonb` where that is safe.
-- The primary key is the concurrency control: two appends that read the same head both try to
-- insert the same seq, and exactly one of them can commit.
CREATE TABLE IF NOT EXISTS gatehouse_session_events (
  session_id  text NOT NULL REFERENCES gatehouse_sessions (session_id),
  seq         integer NOT NULL CHECK (seq >= 0),
  type        text NOT NULL,
  at          timestamptz NOT NULL,
  data        text NOT NULL,
  prev_hash   text,
  hash        text NOT NULL,
  PRIMARY KEY (session_id, seq),
  CHECK ((seq = 0) = (prev_hash IS NULL))
);

-- History cannot be rewritten even by a bug in this adapter or a mistaken script run with the
-- owner's role: every UPDATE, DELETE and TRUNCATE raises. A superuser can still get around it;
-- that is what the hash chain and the exported evidence are for.
CREATE OR REPLACE FUNCTION gatehouse_refuse_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the gatehouse session log is create-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgrelid = 'gatehouse_session_events'::regclass
                   AND tgname = 'gatehouse_session_events_create_only') THEN
    CREATE TRIGGER gatehouse_session_events_create_only
      BEFORE UPDATE OR DELETE OR TRUNCATE ON gatehouse_session_events
      FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_refuse_rewrite();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgrelid = 'gatehouse_sessions'::regclass
                   AND tgname = 'gatehouse_sessions_create_only') THEN
    CREATE TRIGGER gatehouse_sessions_create_only
      BEFORE UPDATE OR DELETE OR TRUNCATE ON gatehouse_sessions
      FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_refuse_rewrite();
  END IF;
END
$$;
