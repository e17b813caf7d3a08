-- Leaves with index in [$1, $2), in index order (by the bigint column, not its text copy).
SELECT e.log_index::text AS leaf_index, e.session_id, e.seq, e.hash
FROM gatehouse_session_events e
WHERE e.log_index >= $1 AND e.log_index < $2
ORDER BY e.log_index
