INSERT INTO gatehouse_approvals (approval_id, session_id, state, created_at, expires_at, notify_due_at, record)
VALUES ($1, $2, $3, $4, $5, $6, $7)
