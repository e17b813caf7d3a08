// The log tamper suite on real PostgreSQL: the writer's rights are INSERT; the owner's are the
// table owner's past the create-only triggers (session_replication_role = replica).
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { logTamperContract } from './log-tamper.contract.ts';

logTamperContract('PostgreSQL', async (clock) => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 3, clock });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const asOwner = async (sql: string, params: unknown[]) => {
    await admin.query('BEGIN');
    try {
      await admin.query('SET LOCAL session_replication_role = replica');
      const r = await admin.query(sql, params);
      await admin.query('COMMIT');
      return r;
    } catch (e) {
      await admin.query('ROLLBACK');
      throw e;
    }
  };
  return {
    log,
    async insertRaw(events, session) {
      if (session) {
        await admin.query('INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, $2, $3, $4, $5, $6)', [
          events[0]!.sessionId,
          session.startedAt,
          session.subject,
          session.email,
          session.connection,
          session.sql,
        ]);
      }
      for (const e of events) {
        await admin.query(
          'INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [e.sessionId, e.seq, e.type, e.at, 'storedData' in e ? e.storedData : JSON.stringify(e.data), e.prevHash, e.hash, e.index],
        );
      }
    },
    async insertUnindexed(events, session) {
      if (session) {
        await admin.query('INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, $2, $3, $4, $5, $6)', [events[0]!.sessionId, session.startedAt, session.subject, session.email, session.connection, session.sql]);
      }
      for (const e of events) {
        await asOwner('INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)', [e.sessionId, e.seq, e.type, e.at, JSON.stringify(e.data), e.prevHash, e.hash]);
      }
    },
    async deleteEvent(sessionId, seq) {
      await asOwner('DELETE FROM gatehouse_session_events WHERE session_id = $1 AND seq = $2', [sessionId, seq]);
    },
    async hideEvent(sessionId, seq) {
      const hideout = `hideout-${sessionId}-${seq}`;
      await asOwner("INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, now(), '', '', '', '')", [hideout]);
      await asOwner('UPDATE gatehouse_session_events SET session_id = $3 WHERE session_id = $1 AND seq = $2', [sessionId, seq, hideout]);
    },
    async deleteSession(sessionId) {
      await asOwner('DELETE FROM gatehouse_session_events WHERE session_id = $1', [sessionId]);
      await asOwner('DELETE FROM gatehouse_sessions WHERE session_id = $1', [sessionId]);
    },
    async replaceEvent(e) {
      // The unique index on log_index is the owner's to drop too; swapping two indices needs a detour.
      await asOwner('UPDATE gatehouse_session_events SET log_index = NULL WHERE log_index = $1', [e.index]);
      await asOwner('UPDATE gatehouse_session_events SET type = $3, at = $4, data = $5, prev_hash = $6, hash = $7, log_index = $8 WHERE session_id = $1 AND seq = $2', [
        e.sessionId,
        e.seq,
        e.type,
        e.at,
        JSON.stringify(e.data),
        e.prevHash,
        e.hash,
        e.index,
      ]);
    },
    async setStartedAt(sessionId, at) {
      await asOwner('UPDATE gatehouse_sessions SET started_at = $2 WHERE session_id = $1', [sessionId, at]);
    },
    async insertSessionOnly(sessionId, session) {
      // The append function with no events: the gateway's own role may call it.
      await admin.query("SELECT gatehouse_append_events($1, '{}', '{}', '{}', '{}', '{}', '{}', true, $2, $3, $4, $5, $6)", [
        sessionId, session.startedAt, session.subject, session.email, session.connection, session.sql,
      ]);
    },
    async setSubject(sessionId, subject) {
      await asOwner('UPDATE gatehouse_sessions SET subject = $2 WHERE session_id = $1', [sessionId, subject]);
    },
    async setSql(sessionId, sql) {
      await asOwner('UPDATE gatehouse_sessions SET sql = $2 WHERE session_id = $1', [sessionId, sql]);
    },
    async close() {
      await log.close();
      await admin.end();
      await db.drop();
    },
  };
});
