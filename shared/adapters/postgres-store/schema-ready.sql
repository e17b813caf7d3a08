-- Everything schema.sql creates is there: a role granted only SELECT and INSERT can start.
SELECT to_regclass('gatehouse_sessions') IS NOT NULL
   AND to_regclass('gatehouse_session_events') IS NOT NULL
   AND (SELECT count(*) FROM pg_trigger
        WHERE tgname IN ('gatehouse_session_events_create_only', 'gatehouse_sessions_create_only')
          AND tgrelid IN (to_regclass('gatehouse_sessions'), to_regclass('gatehouse_session_events'))) = 2
   AND EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = to_regclass('gatehouse_session_events') AND attname = 'log_index' AND NOT attisdropped)
   AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'gatehouse_append_events')
   AND EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'gatehouse_append_batch')
   AND EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgname = 'gatehouse_session_events_next_index' AND tgrelid = to_regclass('gatehouse_session_events'))
   AS ready
