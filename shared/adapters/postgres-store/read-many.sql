-- Every event of several sessions in one round trip (evidence export reads a listing page at a
-- time), grouped by session and ordered by seq; `at` exactly as read.sql gives it.
SELECT session_id, seq, type,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       data, prev_hash, hash, log_index::text AS log_index
FROM gatehouse_session_events
WHERE session_id = ANY($1::text[])
ORDER BY session_id, seq
