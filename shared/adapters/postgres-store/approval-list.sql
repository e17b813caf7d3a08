-- Approvals in any of the states $1 (NULL = all), expiring after $2 / at or before $3, with a
-- notification due by $4; oldest first, at most $5, after the row ($6, $7) when given: the
-- adapter pages on when it leaves malformed records out, so the limit counts approvals listed.
-- created_at comes back as text, which reads back as the same instant to the microsecond (a
-- JavaScript Date would cut it to the millisecond and page over the same row again).
-- A record is read only up to 16 MiB (an honest one holds a request of at most 256 KiB): a longer
-- one, written with the UPDATE right, reads as NULL — malformed — not as an outage (read.sql says why).
SELECT left(approval_id, 4096) AS approval_id, created_at::text AS created_at, CASE WHEN octet_length(record) <= 16777216 THEN record END AS record
FROM gatehouse_approvals
WHERE ($1::text[] IS NULL OR state = ANY ($1::text[]))
  AND ($2::timestamptz IS NULL OR expires_at > $2)
  AND ($3::timestamptz IS NULL OR expires_at <= $3)
  AND ($4::timestamptz IS NULL OR notify_due_at <= $4)
  AND ($6::timestamptz IS NULL OR (created_at, approval_id) > ($6::timestamptz, $7::text))
ORDER BY created_at, approval_id
LIMIT $5
