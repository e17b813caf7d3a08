UPDATE gatehouse_approvals
SET state = $2, notify_due_at = $3, record = $4
WHERE approval_id = $1
