-- Every event of several sessions in one round trip (evidence export reads a listing page at a
-- time), grouped by session and ordered by seq; `at` exactly as read.sql gives it.
-- Every text column is read only up to a bound (session-log.ts MAX_STORED_DATA_BYTES): a row the
-- INSERT right wrote longer than a JavaScript string can be would crash node-postgres in its socket
-- handler. Appends never write more: data longer than that reads as NULL (the adapter reports the
-- event unreadable), an id, type or hash is cut to 4096 characters (and no longer matches).
SELECT session_id, seq, left(type, 4096) AS type,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
       CASE WHEN octet_length(data) <= 67108864 THEN data END AS data, left(prev_hash, 4096) AS prev_hash, left(hash, 4096) AS hash,
       log_index::text AS log_index
FROM gatehouse_session_events
WHERE session_id = ANY($1::text[])
ORDER BY session_id, seq
