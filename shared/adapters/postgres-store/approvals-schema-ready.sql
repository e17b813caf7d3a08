-- The table is there: a role granted only SELECT, INSERT and UPDATE can start.
SELECT to_regclass('gatehouse_approvals') IS NOT NULL AS ready
