-- Everything schema.sql creates is there: a role granted only SELECT and INSERT can start.
SELECT to_regclass('gatehouse_sessions') IS NOT NULL
   AND to_regclass('gatehouse_session_events') IS NOT NULL
   AND (SELECT count(*) FROM pg_trigger
        WHERE tgname IN ('gatehouse_session_events_create_only', 'gatehouse_sessions_create_only')
          AND tgrelid IN (to_regclass('gatehouse_sessions'), to_regclass('gatehouse_session_events'))) = 2
   AS ready
