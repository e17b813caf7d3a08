-- The approval store's schema: mutable state, unlike the session log beside it (docs/design.md#the-session-log-is-create-only: "Mutable
-- approval state lives in a second database"). The gateway's role needs SELECT, INSERT and UPDATE
-- here (row locks need UPDATE); never DELETE. Run by the adapter only when the table is missing.
SELECT pg_advisory_xact_lock(hashtext('gatehouse.approvals.schema'));

-- `record` is the whole approval as JSON text, for the same reason as the session log's `data`:
-- text gives back exactly what was written (jsonb refuses "\u0000", which a bot's SQL may hold).
-- The other columns are copies the adapter keeps in step with it, for filtering and ordering.
CREATE TABLE IF NOT EXISTS gatehouse_approvals (
  approval_id    text PRIMARY KEY,
  session_id     text NOT NULL,
  state          text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'used')),
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  -- When a publish of the approval request is next due; NULL once published.
  notify_due_at  timestamptz,
  record         text NOT NULL
);
CREATE INDEX IF NOT EXISTS gatehouse_approvals_state_idx
  ON gatehouse_approvals (state, created_at, approval_id);
CREATE INDEX IF NOT EXISTS gatehouse_approvals_notify_idx
  ON gatehouse_approvals (notify_due_at) WHERE notify_due_at IS NOT NULL;
