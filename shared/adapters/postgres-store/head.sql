-- The event an append continues from. No lock: if another append takes the next seq first, the
-- primary key refuses this one and the adapter reads the head again.
SELECT seq, left(hash, 4096) AS hash
FROM gatehouse_session_events
WHERE session_id = $1
ORDER BY seq DESC
LIMIT 1
