-- The read of a read-check-write: the row stays locked until COMMIT or ROLLBACK, so a concurrent
-- update of the same approval waits here and then reads what this one wrote.
-- A record is read only up to 16 MiB (an honest one holds a request of at most 256 KiB): a longer
-- one, written with the UPDATE right, reads as NULL — malformed — not as an outage (read.sql says why).
SELECT CASE WHEN octet_length(record) <= 16777216 THEN record END AS record FROM gatehouse_approvals WHERE approval_id = $1 FOR UPDATE
