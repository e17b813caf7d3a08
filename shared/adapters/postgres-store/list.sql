-- Sessions started in [$1, $2), optionally of one subject ($3), strictly after the session $4 in
-- (started_at, session_id) order, at most $5 (NULL = no limit). An `after` naming no session
-- matches nothing rather than restarting from the beginning.
-- Text read up to a bound, as read.sql says why (a cut listing column disagrees with its first event).
SELECT left(s.session_id, 4096) AS session_id,
       to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
       CASE WHEN octet_length(s.subject) <= 1048576 THEN s.subject END AS subject, CASE WHEN octet_length(s.email) <= 1048576 THEN s.email END AS email,
       CASE WHEN octet_length(s.connection) <= 1048576 THEN s.connection END AS connection, CASE WHEN octet_length(s.sql) <= 1048576 THEN s.sql END AS sql,
       last.seq AS last_seq,
       left(last.type, 4096) AS last_type,
       to_char(last.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_at,
       -- The status (shared/audit/status.ts) reads the data of these types only; the others can
       -- carry whole result sets, which a listing has no reason to fetch.
       CASE WHEN last.type IN ('request', 'analysis', 'decision', 'approval.granted', 'execution.abandoned') AND octet_length(last.data) <= 67108864 THEN last.data END AS last_data,
       -- The first event, whose hash the adapter re-checks and from which it re-derives the
       -- columns above (shared/audit/listing-check.ts).
       left(f.type, 4096) AS first_type,
       to_char(f.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS first_at,
       CASE WHEN octet_length(f.data) <= 67108864 THEN f.data END AS first_data, left(f.prev_hash, 4096) AS first_prev_hash, left(f.hash, 4096) AS first_hash
FROM gatehouse_sessions s
LEFT JOIN gatehouse_session_events f ON f.session_id = s.session_id AND f.seq = 0
-- LEFT: a session row with no event (the append function with no events makes one; only a writer
-- behind the gateway's back calls it so) is listed too, and named (listing-check.ts), not left out.
LEFT JOIN LATERAL (
  SELECT e.seq, e.type, e.at, e.data
  FROM gatehouse_session_events e
  WHERE e.session_id = s.session_id
  ORDER BY e.seq DESC
  LIMIT 1
) last ON true
WHERE ($1::timestamptz IS NULL OR s.started_at >= $1)
  AND ($2::timestamptz IS NULL OR s.started_at < $2)
  AND ($3::text IS NULL OR s.subject = $3)
  AND ($4::text IS NULL
       OR (s.started_at, s.session_id) > (SELECT c.started_at, c.session_id
                                          FROM gatehouse_sessions c
                                          WHERE c.session_id = $4))
ORDER BY s.started_at, s.session_id
LIMIT $5
