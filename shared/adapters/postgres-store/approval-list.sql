-- Approvals in any of the states $1 (NULL = all), expiring after $2 / at or before $3, with a
-- notification due by $4; oldest first, at most $5.
SELECT record
FROM gatehouse_approvals
WHERE ($1::text[] IS NULL OR state = ANY ($1::text[]))
  AND ($2::timestamptz IS NULL OR expires_at > $2)
  AND ($3::timestamptz IS NULL OR expires_at <= $3)
  AND ($4::timestamptz IS NULL OR notify_due_at <= $4)
ORDER BY created_at, approval_id
LIMIT $5
