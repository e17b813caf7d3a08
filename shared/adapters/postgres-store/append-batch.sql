-- One batch of appends in one statement (one round trip, atomic without BEGIN/COMMIT, one commit
-- and so one WAL flush for every caller in it): the sessions the batch starts ($8–$13) and all of
-- its events ($1–$7, in batch order) at the next global indices (schema.sql:
-- gatehouse_append_batch). The primary keys decide races on a session's seq: a lost one fails the
-- whole batch with 23505 and the append path retries its members one by one. Returns the first index.
SELECT gatehouse_append_batch($1::text[], $2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::text[]) AS first_index
