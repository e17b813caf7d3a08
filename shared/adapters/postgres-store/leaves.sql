-- Leaves with index in [$1, $2), in index order (by the bigint column, not its text copy).
-- Text read up to a bound, as read.sql says why.
SELECT e.log_index::text AS leaf_index, left(e.session_id, 4096) AS session_id, e.seq, left(e.hash, 4096) AS hash
FROM gatehouse_session_events e
WHERE e.log_index >= $1 AND e.log_index < $2
ORDER BY e.log_index
