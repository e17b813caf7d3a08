-- All of one append's events in one statement, whatever their number.
INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash)
SELECT $1, e.seq, e.type, e.at, e.data, e.prev_hash, e.hash
FROM unnest($2::integer[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[])
  AS e(seq, type, at, data, prev_hash, hash)
