-- Leaves in the global log: the highest index + 1 (indices are gap-free; a gap is found by whoever
-- reads the leaves, never papered over here). An index-only backward scan.
SELECT (coalesce(max(log_index), -1) + 1)::text AS size FROM gatehouse_session_events
