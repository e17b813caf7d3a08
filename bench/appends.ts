// `npm run bench -- appends`: session-log appends per second with 32 concurrent writers, on a
// DURABLE PostgreSQL (fsync, synchronous_commit and full_page_writes on: every commit waits for
// its WAL flush), before and after group commit (issue 17 item 3), in one run.
//
//   before: each append is its own statement and its own commit (gatehouse_append_events, one
//           call per append, 10 pooled connections, as the adapter did before the shared path);
//   after:  the adapter as the gateway uses it (pool of 10): concurrent appends share one
//           multi-row INSERT and one commit (shared/audit/append-path.ts).
//
// Each writer does what one request does to the log: an admission append of 4 events (request,
// analysis, decision, execution.started) on a new session, then the result (1 event).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { chainEvents } from '../shared/audit/chain.ts';
import type { EventDraft, SessionEvent } from '../shared/audit/events.ts';
import { createPostgresSessionLog } from '../shared/adapters/postgres-store/index.ts';
import { SQL } from '../shared/adapters/postgres-store/sql.ts';
import { sessionColumns } from '../shared/adapters/postgres-store/rows.ts';
import { EVENT_DATA } from '../shared/audit/event-schema.ts';

const WRITERS = 32;
const REQUESTS_PER_WRITER = 60;

export interface AppendFigures {
  readonly writers: number;
  readonly requests: number;
  readonly appends: number;
  readonly events: number;
  readonly durable: { readonly fsync: string; readonly synchronous_commit: string };
  readonly before: Run;
  readonly after: Run & { readonly writes: number; readonly largestBatch: number; readonly appendsPerWrite: number };
  readonly gapFree: boolean;
  /** The event schema's check (what `evidence verify` and every typed read pay once per event), µs per event. */
  readonly schemaCheckMicros: Readonly<Record<string, number>>;
}

interface Run {
  readonly seconds: number;
  readonly appendsPerSecond: number;
  readonly eventsPerSecond: number;
}

const admission = (w: number, k: number): EventDraft[] => [
  { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: `w${w}`, groups: [] }, agent: { model: 'bench' }, connection: 'b', sql: 'SELECT 1', params: [], k } },
  { type: 'analysis', data: { pgType: 'SelectStmt', kind: 'SELECT', class: 'read', reasons: [], tables: { read: [], written: [] }, columns: [], functions: [], fingerprint: 'f' } },
  { type: 'decision', data: { action: 'allow', rule: 'bots-read', reasons: ['bench'], policySha256: 'p' } },
  { type: 'execution.started', data: { connection: 'b', readOnly: true, maxRows: 100, statementTimeoutMs: 5000 } },
];
const resultDraft: EventDraft = { type: 'execution.result', data: { command: 'SELECT', rowCount: 1, truncated: false, columns: [{ name: 'x', type: 'int4' }], rows: [[1]], durationMs: 0.4 } };

export async function benchAppends(): Promise<AppendFigures> {
  const server = await startTestPostgres({ durable: true });
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const setting = async (name: string) => (await admin.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]!.v;
    const durable = { fsync: await setting('fsync'), synchronous_commit: await setting('synchronous_commit') };
    for (const name of ['bench_appends_before', 'bench_appends_after']) await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = (name: string) => Object.assign(new URL(server.url), { pathname: `/${name}` }).toString();

    const before = await runBefore(url('bench_appends_before'));
    const after = await runAfter(url('bench_appends_after'));
    const requests = WRITERS * REQUESTS_PER_WRITER;
    return { writers: WRITERS, requests, appends: requests * 2, events: requests * 5, durable, before, after: after.run, gapFree: after.gapFree, schemaCheckMicros: schemaCheck() };
  } finally {
    await server.stop();
  }
}

async function runAfter(url: string): Promise<{ run: AppendFigures['after']; gapFree: boolean }> {
  const log = await createPostgresSessionLog({ connectionString: url, poolSize: 10 });
  try {
    await log.append(randomUUID(), admission(-1, -1)); // schema and a warm connection
    const start = log.appendStats();
    const seconds = await timed(async (w, k) => {
      const sid = randomUUID();
      await log.append(sid, admission(w, k));
      await log.append(sid, [resultDraft]);
    });
    const end = log.appendStats();
    const size = await log.treeSize();
    const leaves = await log.leaves(0, size);
    const gapFree = leaves.length === size && leaves.every((l, i) => l.index === i) && size === 4 + WRITERS * REQUESTS_PER_WRITER * 5;
    const appends = WRITERS * REQUESTS_PER_WRITER * 2;
    const writes = end.writes - start.writes;
    return { run: { ...rates(seconds), writes, largestBatch: end.largestBatch, appendsPerWrite: round(appends / writes) }, gapFree };
  } finally {
    await log.close();
  }
}

async function runBefore(url: string): Promise<Run> {
  await (await createPostgresSessionLog({ connectionString: url, poolSize: 1 })).close(); // the schema
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  try {
    const appendOne = async (sid: string, events: SessionEvent[], starts: boolean) => {
      const first = events[0]!;
      await pool.query(SQL.append, [
        sid,
        events.map((e) => e.seq),
        events.map((e) => e.type),
        events.map((e) => e.at),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => e.prevHash),
        events.map((e) => e.hash),
        starts,
        first.at,
        ...sessionColumns(first),
      ]);
    };
    const seconds = await timed(async (w, k) => {
      const sid = randomUUID();
      const head = chainEvents(sid, null, admission(w, k), new Date());
      await appendOne(sid, head, true);
      await appendOne(sid, chainEvents(sid, head.at(-1)!, [resultDraft], new Date()), false);
    });
    return rates(seconds);
  } finally {
    await pool.end();
  }
}

async function timed(request: (writer: number, k: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      for (let k = 0; k < REQUESTS_PER_WRITER; k++) await request(w, k);
    }),
  );
  return (performance.now() - started) / 1000;
}

function rates(seconds: number): Run {
  const appends = WRITERS * REQUESTS_PER_WRITER * 2;
  return { seconds: round(seconds), appendsPerSecond: Math.round(appends / seconds), eventsPerSecond: Math.round((WRITERS * REQUESTS_PER_WRITER * 5) / seconds) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** safeParse of each writer-shaped event's data, as stored (JSON round trip), warm. */
function schemaCheck(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const draft of [...admission(0, 0), resultDraft]) {
    const data = JSON.parse(JSON.stringify(draft.data)) as unknown;
    const schema = EVENT_DATA[draft.type];
    for (let i = 0; i < 20_000; i++) schema.safeParse(data);
    const n = 100_000;
    const started = performance.now();
    for (let i = 0; i < n; i++) if (!schema.safeParse(data).success) throw new Error(`${draft.type} does not fit its schema`);
    out[draft.type] = round(((performance.now() - started) * 1000) / n);
  }
  return out;
}
