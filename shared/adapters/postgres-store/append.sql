-- One append in one statement (one round trip, atomic without BEGIN/COMMIT): the session row when
-- this append starts the session ($8 true), and all of the append's events at the next global
-- indices (schema.sql: gatehouse_append_events). The primary keys decide races on a session's seq:
-- a lost one fails with 23505 and the adapter retries on the fresh head. Returns the first index.
SELECT gatehouse_append_events($1, $2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                               $8::boolean, $9, $10, $11, $12, $13) AS first_index
