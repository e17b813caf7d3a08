-- One append in one statement (so one round trip, atomic without BEGIN/COMMIT): the session row
-- when this append starts the session ($8 true), and all of the append's events. The primary
-- keys decide races: a lost one fails with 23505 and the adapter retries on the fresh head.
WITH new_session AS (
  INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql)
  SELECT $1, $9, $10, $11, $12, $13
  WHERE $8::boolean
)
INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash)
SELECT $1, e.seq, e.type, e.at, e.data, e.prev_hash, e.hash
FROM unnest($2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
  AS e(seq, type, at, data, prev_hash, hash)
