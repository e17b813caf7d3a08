-- Written in the same transaction as the session's first event; a second first event (a racing
-- append) fails on the primary key and is retried as a continuation.
INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql)
VALUES ($1, $2, $3, $4, $5, $6)
