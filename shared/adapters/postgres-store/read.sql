-- `at` as the exact ISO-8601 string that was hashed, independent of the session's TimeZone and of
-- any timestamp parser another module may have installed in node-postgres.
SELECT session_id, seq, type,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       data, prev_hash, hash, log_index::text AS log_index
FROM gatehouse_session_events
WHERE session_id = $1
ORDER BY seq
