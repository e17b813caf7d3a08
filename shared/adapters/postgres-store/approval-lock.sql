-- The read of a read-check-write: the row stays locked until COMMIT or ROLLBACK, so a concurrent
-- update of the same approval waits here and then reads what this one wrote.
SELECT record FROM gatehouse_approvals WHERE approval_id = $1 FOR UPDATE
