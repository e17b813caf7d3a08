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

-- The global log (shared/transparency/): every event is the leaf at its log_index of one RFC 6962
-- Merkle tree over the whole log. The index is assigned under one advisory lock, after the
-- previous append committed, so the indices are gap-free and no two appends share one; the
-- unique index is the backstop. An advisory lock needs no UPDATE privilege: the gateway's role
-- still holds only SELECT and INSERT. Events stored before this column existed have no index and
-- are outside the tree.
ALTER TABLE gatehouse_session_events ADD COLUMN IF NOT EXISTS log_index bigint CHECK (log_index >= 0);
CREATE UNIQUE INDEX IF NOT EXISTS gatehouse_session_events_log_index_idx
  ON gatehouse_session_events (log_index);

-- Every new event takes the next index of the global log, and only that one. The gateway's role
-- holds INSERT, so without this the holder of its credentials could insert an event with no index
-- (outside every signed root: a forged session that no checkpoint can show was forged, exported
-- as if it predated the log), or at an index of their choosing (a gap no append can fill: the
-- signer refuses a log with a gap, so checkpoints would stop for good). Rows stored before this
-- trigger existed keep their NULL (events stored before the global log).
-- One check per INSERT statement, over its rows (a transition table), not per row: a per-row
-- trigger ran a query per event inside the append lock and cost a third of the append rate. The
-- statement's indices must be k distinct values lo … lo+k−1 (the unique index makes them
-- distinct), lo − 1 must already be there (or lo = 0), and nothing above lo+k−1 may be: so the
-- log stays 0 … n−1 (the previous statement left it so). A concurrent uncommitted row is not
-- seen here: at the same index the unique index refuses one of the two; at the next one, its
-- lo − 1 is not there yet, and it is refused.
CREATE OR REPLACE FUNCTION gatehouse_check_log_index() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  lo bigint;
  hi bigint;
  k bigint;
  unindexed bigint;
BEGIN
  SELECT min(log_index), max(log_index), count(log_index), count(*) - count(log_index)
    INTO lo, hi, k, unindexed FROM gatehouse_new_events;
  IF unindexed > 0 THEN
    RAISE EXCEPTION 'the gatehouse session log refuses an event without a log_index (its place in the global log)'
      USING ERRCODE = 'check_violation';
  END IF;
  IF k = 0 THEN
    RETURN NULL;
  END IF;
  IF hi - lo + 1 <> k
     OR (lo > 0 AND NOT EXISTS (SELECT 1 FROM gatehouse_session_events WHERE log_index = lo - 1))
     OR EXISTS (SELECT 1 FROM gatehouse_session_events WHERE log_index > hi) THEN
    RAISE EXCEPTION 'the gatehouse session log refuses log_index % … %: not the next indices of the global log', lo, hi
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgrelid = 'gatehouse_session_events'::regclass
                   AND tgname = 'gatehouse_session_events_next_index') THEN
    CREATE TRIGGER gatehouse_session_events_next_index
      AFTER INSERT ON gatehouse_session_events
      REFERENCING NEW TABLE AS gatehouse_new_events
      FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_check_log_index();
  END IF;
END
$$;

-- One append: the session row when it starts the session, and the events at the next indices.
-- PL/pgSQL so the index is read after the lock is held: under READ COMMITTED each statement of a
-- volatile function takes a new snapshot, which then sees the previous holder's committed events
-- (a single SQL statement would read max(log_index) from a snapshot taken before the lock).
-- The lock is held to the end of the caller's transaction, i.e. past this append's commit.
CREATE OR REPLACE FUNCTION gatehouse_append_events(
  p_session_id text, p_seq integer[], p_type text[], p_at timestamptz[], p_data text[], p_prev_hash text[], p_hash text[],
  p_starts boolean, p_started_at timestamptz, p_subject text, p_email text, p_connection text, p_sql text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  first_index bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7262013946281041414);
  SELECT coalesce(max(log_index), -1) + 1 INTO first_index FROM gatehouse_session_events;
  IF p_starts THEN
    INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql)
    VALUES (p_session_id, p_started_at, p_subject, p_email, p_connection, p_sql);
  END IF;
  INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index)
  SELECT p_session_id, e.seq, e.type, e.at, e.data, e.prev_hash, e.hash, first_index + e.ord - 1
  FROM unnest(p_seq, p_type, p_at, p_data, p_prev_hash, p_hash) WITH ORDINALITY AS e(seq, type, at, data, prev_hash, hash, ord)
  ORDER BY e.ord;
  RETURN first_index;
END
$$;

-- A batch of appends from several sessions (shared/audit/append-path.ts: group commit): the same
-- lock, the same index assignment, for every event of the batch in the order given. One statement,
-- one commit: every caller of the batch is durable at once, or none is.
CREATE OR REPLACE FUNCTION gatehouse_append_batch(
  p_session_id text[], p_seq integer[], p_type text[], p_at timestamptz[], p_data text[], p_prev_hash text[], p_hash text[],
  s_session_id text[], s_started_at timestamptz[], s_subject text[], s_email text[], s_connection text[], s_sql text[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  first_index bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7262013946281041414);
  SELECT coalesce(max(log_index), -1) + 1 INTO first_index FROM gatehouse_session_events;
  INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql)
  SELECT * FROM unnest(s_session_id, s_started_at, s_subject, s_email, s_connection, s_sql);
  INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index)
  SELECT e.session_id, e.seq, e.type, e.at, e.data, e.prev_hash, e.hash, first_index + e.ord - 1
  FROM unnest(p_session_id, p_seq, p_type, p_at, p_data, p_prev_hash, p_hash)
         WITH ORDINALITY AS e(session_id, seq, type, at, data, prev_hash, hash, ord)
  ORDER BY e.ord;
  RETURN first_index;
END
$$;
