// Evidence at scale: 100k sessions written straight into a PostgreSQL session store (chained with
// the log's own chainEvents, bulk-inserted — going through the gateway would measure the gateway),
// then `evidence export` and `evidence verify` each in a child process of their own, so peak RSS
// is theirs alone. Figures: export time and peak memory for 10k and 100k sessions, verify time
// and events verified per second. Run: `npx tsx bench/evidence.ts` (prints JSON);
// BENCH_EVIDENCE_KEEP=1 keeps the exports and state dir to verify (or profile) again.
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { distIsCurrent } from '../bin/source-mtime.js';
import { chainEvents, storedData } from '../shared/audit/chain.ts';
import { SIGNED_VOTE_VERSION, signedBytes, type SignedVote } from '../shared/approvals/vote-signature.ts';
import type { EventDraft, SessionEvent } from '../shared/audit/events.ts';
import { createPostgresSessionLog } from '../shared/adapters/postgres-store/index.ts';
import { exportEvidence } from '../shared/evidence/export.ts';
import { verifyEvidence } from '../shared/evidence/verify.ts';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { checkpointOnce } from '../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../shared/transparency/local.ts';

const SESSIONS = Number(process.env.BENCH_EVIDENCE_SESSIONS ?? 100_000);
const VOTE_KEY_FILE = 'bench-vote-public-key.pem';
const START = Date.UTC(2026, 0, 1);
const STEP_MS = 20_000; // one session every 20 s: 100k sessions ≈ 23 days
// BENCH_EVIDENCE_HEAP_MB=0 skips the capped run (it adds about two minutes at 100k).
const HEAP_CAP_MB = Number(process.env.BENCH_EVIDENCE_HEAP_MB ?? 160);

export async function benchEvidence(): Promise<Record<string, unknown>> {
  const server = await startTestPostgres();
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-evidence-'));
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_evidence');
    await admin.end();
    const url = Object.assign(new URL(server.url), { pathname: '/bench_evidence' }).toString();
    // The adapter creates its schema (and the create-only triggers) as it would in production.
    await (await createPostgresSessionLog({ connectionString: url, poolSize: 1 })).close();

    console.error('evidence: appends with the global index, 32 concurrent writers …');
    const appends = await benchAppends(server.url);
    // Signed checkpoints as `gatehouse start` would have made them: one 6 minutes after the first
    // 10k sessions (the later ones start a further 7 minutes on, after it), one after all of them.
    // Export proves against them and verify checks them (signatures, range proof, every leaf).
    const tenK = Math.min(10_000, SESSIONS);
    const GAP_MS = 7 * 60_000;
    const atMs = (i: number) => START + i * STEP_MS + (i >= tenK ? GAP_MS : 0);
    const at = (i: number) => new Date(atMs(i)).toISOString();
    const stateDir = join(work, 'state');
    const local = localCheckpointing(stateDir, { createKey: true });
    const signLog = await createPostgresSessionLog({ connectionString: url, poolSize: 1 });
    const sign = async (time: number) => {
      const signStarted = performance.now();
      const signed = await checkpointOnce({ log: signLog, signer: local.signer, store: local.store, clock: () => new Date(time) });
      return { treeSize: signed.checkpoint.treeSize, seconds: round((performance.now() - signStarted) / 1000) };
    };
    console.error(`evidence: generating ${SESSIONS} sessions …`);
    const checkpoints: Record<string, unknown>[] = [];
    const generated = await generate(url, SESSIONS, atMs, async (done) => {
      if (done === tenK) checkpoints.push(await sign(atMs(tenK - 1) + 6 * 60_000));
    });
    checkpoints.push(await sign(atMs(SESSIONS) + 10 * 60_000));
    // The desk's public key, published apart from the export: export records it, verify checks every vote against it.
    writeFileSync(join(stateDir, VOTE_KEY_FILE), DESK_PUBLIC_KEY);
    const checkpoint = checkpoints;
    await signLog.close();

    console.error('evidence: export 10k …');
    const export10k = await child(['export', url, join(work, 'e10k'), at(0), new Date(atMs(tenK - 1) + 1).toISOString(), stateDir]);
    console.error(`evidence: export ${SESSIONS} …`);
    const exportAll = await child(['export', url, join(work, 'eall'), at(0), at(SESSIONS), stateDir]);
    console.error(`evidence: verify ${SESSIONS} against the signed checkpoint …`);
    const verifyAll = await child(['verify', join(work, 'eall'), stateDir]);
    // The same folder read by the full pass alone (what verify did before the clean pass), for the ratio.
    console.error(`evidence: verify ${SESSIONS} again, full pass only …`);
    const verifyAllFullPass = await child(['verify', join(work, 'eall'), stateDir, 'full']);
    // Streaming, shown rather than claimed: the same export under a heap far smaller than its
    // output (events.jsonl alone is ~200 MB at 100k sessions). V8 grows its heap lazily, so
    // unconstrained RSS overstates what an export needs.
    let exportAllCapped: Record<string, unknown> | undefined;
    if (HEAP_CAP_MB > 0) {
      console.error(`evidence: export ${SESSIONS} with the heap capped at ${HEAP_CAP_MB} MB …`);
      exportAllCapped = await child(['export', url, join(work, 'ecap'), at(0), at(SESSIONS), stateDir], [`--max-old-space-size=${HEAP_CAP_MB}`]);
    }
    return {
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version, store: `PostgreSQL (${server.kind})` },
      appends,
      generated,
      checkpoint,
      export10k,
      exportAll,
      verifyAll,
      verifyAllFullPass,
      exportAllCapped,
    };
  } finally {
    // BENCH_EVIDENCE_KEEP=1 keeps the exports and state dir (printed) to profile verify on them again.
    if (process.env.BENCH_EVIDENCE_KEEP) console.error(`evidence: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
    await server.stop();
  }
}

/** Sessions of four shapes, chained by chainEvents and inserted a few thousand at a time. */
export async function generate(url: string, n: number, atMs: (i: number) => number, afterBatch: (done: number) => Promise<void>): Promise<Record<string, number>> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let events = 0;
  let index = 0;
  try {
    const BATCH = 2000;
    for (let base = 0; base < n; base += BATCH) {
      const sessions: unknown[][] = [[], [], [], [], [], []];
      const rows: unknown[][] = [[], [], [], [], [], [], [], []];
      for (let i = base; i < Math.min(n, base + BATCH); i++) {
        const sid = randomUUID();
        const at = new Date(atMs(i));
        const evs = shape(sid, i, at);
        events += evs.length;
        const req = evs[0]!.data as { principal: { subject: string; email: string }; connection?: string; sql?: string };
        [sid, at.toISOString(), req.principal.subject, req.principal.email, req.connection ?? null, req.sql ?? null].forEach((v, k) => sessions[k]!.push(v));
        // storedData: the canonical JSON chainEvents hashed, the text the adapter itself writes (rows.ts batchColumns).
        for (const e of evs) [sid, e.seq, e.type, e.at, storedData(e), e.prevHash, e.hash, index++].forEach((v, k) => rows[k]!.push(v));
      }
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql)
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])`,
        sessions,
      );
      await client.query(
        `INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index)
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::bigint[])`,
        rows,
      );
      await client.query('COMMIT');
      await afterBatch(Math.min(n, base + BATCH));
    }
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
  return { sessions: n, events, seconds: round((performance.now() - started) / 1000) };
}

const POLICY = createHash('sha256').update('bench policy').digest('hex');
const DIGEST = createHash('sha256').update('bench statement').digest('hex');
// The approval desk's key: every vote is signed as the desk signs it (shared/approvals/vote-signature.ts), so verify checks real signatures.
const DESK = generateKeyPairSync('ec', { namedCurve: 'P-256' });
export const DESK_PUBLIC_KEY = DESK.publicKey.export({ type: 'spki', format: 'pem' }).toString();

function signedVote(approvalId: string, sessionId: string, at: Date): { vote: SignedVote; signature: { alg: 'ES256'; keyId: string; value: string } } {
  const vote: SignedVote = {
    v: SIGNED_VOTE_VERSION,
    approvalId,
    sessionId,
    digest: DIGEST,
    verdict: 'approve',
    approver: { issuer: 'https://accounts.google.com', subject: 'alice@acme.com', email: 'alice@acme.com', groups: ['dba'] },
    token: { iss: 'https://accounts.google.com', sub: 'alice@acme.com', iat: Math.floor(at.getTime() / 1000), sha256: DIGEST },
    as: 'group:dba',
    policySha256: POLICY,
    at: at.toISOString(),
  };
  return { vote, signature: { alg: 'ES256', keyId: 'local:bench', value: sign('sha256', signedBytes(vote), { key: DESK.privateKey, dsaEncoding: 'der' }).toString('base64') } };
}
const BOTS = ['review-bot@acme.iam', 'ci-bot@acme.iam', 'docs-bot@acme.iam'];

function shape(sid: string, i: number, at: Date): SessionEvent[] {
  const who = BOTS[i % BOTS.length]!;
  const request = (sql: string): EventDraft => ({
    type: 'request',
    data: { endpoint: 'query', principal: { issuer: 'https://accounts.google.com', subject: who, email: who, groups: ['review-bots'] }, agent: { model: 'gemini-2.5-pro-002', runId: `run-${i % 97}` }, connection: 'prod', sql, params: [i] },
  });
  const analysis = (cls: string, kind: string): EventDraft => ({
    type: 'analysis',
    data: { pgType: `${kind}Stmt`, kind, class: cls, reasons: [`${kind} ${cls}`], tables: { read: ['orders'], written: cls === 'read' ? [] : ['orders'] }, columns: ['id', 'total'], functions: [], fingerprint: 'abcd1234' },
  });
  const decision = (action: string, rule: string): EventDraft => ({ type: 'decision', data: { action, rule, reasons: [`rule "${rule}"`], policySha256: POLICY } });
  const rows = [[i, '12.50', 'shipped'], [i + 1, '7.25', 'open'], [i + 2, '99.00', 'open']];
  const kind = i % 20;
  let drafts: EventDraft[];
  if (kind < 14) {
    drafts = [
      request('SELECT id, total, status FROM orders WHERE customer_id = $1'),
      analysis('read', 'SELECT'),
      decision('allow', 'bots-read'),
      { type: 'execution.started', data: { connection: 'prod', readOnly: true, maxRows: 100, statementTimeoutMs: 5000 } },
      {
        type: 'execution.completed',
        data: { command: 'SELECT', rowCount: 3, truncated: false, durationMs: 1.7, columns: [{ name: 'id', type: 'int4', tableID: 16400, columnID: 1 }, { name: 'total', type: 'numeric', tableID: 16400, columnID: 2 }, { name: 'status', type: 'text', tableID: 16400, columnID: 3 }], rows, resultSha256: 'f'.repeat(64) },
      },
    ];
  } else if (kind < 18) {
    drafts = [request('DELETE FROM orders'), analysis('destructive', 'DELETE'), decision('deny', 'nothing-else')];
  } else if (kind < 19) {
    drafts = [{ type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://accounts.google.com', subject: who, email: who, groups: [] }, agent: {}, rejected: { code: 'invalid_json', message: 'body is not JSON' } } }];
  } else {
    drafts = [
      request('UPDATE orders SET status = $1 WHERE id = $2'),
      analysis('write', 'UPDATE'),
      decision('approve', 'bots-write-approved'),
      { type: 'approval.requested', data: { approvalId: `ap-${i}`, digest: DIGEST, rule: 'bots-write-approved', approvers: ['group:dba'], quorum: 1, expiresAt: new Date(at.getTime() + 600_000).toISOString() } },
      { type: 'approval.granted', data: { approvalId: `ap-${i}`, approver: { issuer: 'https://accounts.google.com', subject: 'alice@acme.com', email: 'alice@acme.com' }, comment: 'ok', quorumMet: true, ...signedVote(`ap-${i}`, sid, at) } },
    ];
  }
  return chainEvents(sid, null, drafts, at);
}

/** CPU seconds of this process's main thread alone (Linux: /proc/self/task/PID/stat utime + stime). */
function mainThreadCpuSeconds(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** One export or verify in a fresh process, so its peak RSS is measured alone. */
function child(args: string[], nodeFlags: string[] = []): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // BENCH_EVIDENCE_PROFILE=DIR writes a CPU profile of each child there (open in Chrome devtools).
    const profile = process.env.BENCH_EVIDENCE_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_EVIDENCE_PROFILE] : [];
    const entry = new URL('./child-entry.mjs', import.meta.url).pathname;
    const p = spawn(process.execPath, [...nodeFlags, ...profile, entry, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`bench child ${args[0]} exited ${code}`))));
  });
}

/**
 * What the child measures: the compiled code in dist/ when it is current, as `gatehouse evidence
 * export|verify` runs it (bin/gatehouse.js makes the same check), else the TypeScript source.
 */
async function evidenceCode(): Promise<{ code: 'dist' | 'source'; exportEvidence: typeof exportEvidence; verifyEvidence: typeof verifyEvidence; createPostgresSessionLog: typeof createPostgresSessionLog; localCheckpointing: typeof localCheckpointing }> {
  const root = new URL('../', import.meta.url);
  if (!distIsCurrent(root.pathname)) return { code: 'source', exportEvidence, verifyEvidence, createPostgresSessionLog, localCheckpointing };
  const from = (path: string) => import(new URL(`dist/${path}`, root).href);
  return {
    code: 'dist',
    exportEvidence: (await from('shared/evidence/export.js')).exportEvidence,
    verifyEvidence: (await from('shared/evidence/verify.js')).verifyEvidence,
    createPostgresSessionLog: (await from('shared/adapters/postgres-store/index.js')).createPostgresSessionLog,
    localCheckpointing: (await from('shared/transparency/local.js')).localCheckpointing,
  };
}

async function runChild(args: string[]): Promise<Record<string, unknown>> {
  const { code, exportEvidence, verifyEvidence, createPostgresSessionLog, localCheckpointing } = await evidenceCode();
  let peak = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 25);
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let figures: Record<string, unknown>;
  if (args[0] === 'export') {
    const [, url, out, from, to, stateDir] = args as [string, string, string, string, string, string];
    // The pool `gatehouse evidence export --store` gets (infra/session-store-access.ts).
    const log = await createPostgresSessionLog({ connectionString: url, poolSize: 2 });
    try {
      const checkpoints = (await localCheckpointing(stateDir).store.list()).checkpoints;
      const s = await exportEvidence(log, { from: new Date(from), to: new Date(to), out, source: 'bench', checkpoints, votePublicKeyPem: readFileSync(join(stateDir, VOTE_KEY_FILE), 'utf8') });
      if (s.logProblems.length) throw new Error(`bench export found log problems: ${JSON.stringify(s.logProblems.slice(0, 3))}`);
      const seconds = (performance.now() - started) / 1000;
      figures = { sessions: s.sessions, events: s.events, seconds: round(seconds), sessionsPerSecond: Math.round(s.sessions / seconds), reportMB: round(s.files['report.html']!.bytes / 1048576), eventsMB: round(s.files['events.jsonl']!.bytes / 1048576) };
    } finally {
      await log.close();
    }
  } else {
    const mainStart = mainThreadCpuSeconds();
    const r = await verifyEvidence(args[1]!, { checkpoints: args[2]!, votePublicKey: join(args[2]!, VOTE_KEY_FILE), fullPass: args[3] === 'full' });
    if (!r.ok) throw new Error(`bench export does not verify: ${JSON.stringify(r.problems.slice(0, 3))}`);
    figures = {
      pass: r.pass,
      // The main thread's own CPU time (the rest of cpuSeconds is the worker threads').
      mainThreadCpuSeconds: round(mainThreadCpuSeconds() - mainStart),
      sessions: r.checked.sessions,
      events: r.checked.events,
      leavesProved: r.logRoot ? 'range proof against a signed checkpoint' : 'none',
      votesChecked: r.votes?.checked,
      workers: availableParallelism(),
      seconds: round((performance.now() - started) / 1000),
      eventsVerifiedPerSecond: r.eventsPerSecond,
    };
  }
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpuStart);
  return {
    code,
    ...figures,
    // CPU time of the whole process, worker threads included: on a shared machine, wall time also counts everyone else's load.
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
    peakRssMB: round(Math.max(peak, process.resourceUsage().maxRSS * 1024) / 1048576),
    peakHeapUsedMB: round(peakHeap / 1048576),
    ...(process.execArgv.find((a) => a.startsWith('--max-old-space-size')) ? { heapLimit: process.execArgv.find((a) => a.startsWith('--max-old-space-size')) } : {}),
    baselineRssMB: round(baseline / 1048576),
  };
}

// The append statement before the global log (per-session chain only), for comparison: the same
// one-statement insert the adapter ran, without the global index and its advisory lock.
const APPEND_BEFORE = `WITH new_session AS (
  INSERT INTO gatehouse_sessions (session_id, started_at) SELECT $1, $4 WHERE $9::boolean)
INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash)
SELECT $1, e.seq, e.type, e.at, e.data, e.prev_hash, e.hash
FROM unnest($2::integer[], $3::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[]) AS e(seq, type, at, data, prev_hash, hash)`;

/**
 * Appends/s with 32 concurrent writers, each appending to sessions of its own (3 events an
 * append), through the adapter (global index) and through the pre-global-log statement; then
 * checks the global indices are 0 … n−1, each once.
 */
async function benchAppends(serverUrl: string): Promise<Record<string, unknown>> {
  const WRITERS = 32;
  const PER_WRITER = Number(process.env.BENCH_APPENDS_PER_WRITER ?? 60);
  const db = async (name: string) => {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    return Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  };
  const drafts = (w: number, k: number): EventDraft[] => [
    { type: 'request', data: { principal: { subject: `w${w}` }, sql: 'SELECT 1', k } },
    { type: 'analysis', data: { class: 'read' } },
    { type: 'decision', data: { action: 'allow', rule: 'bots-read' } },
  ];
  // After: the adapter, as the gateway uses it (pool of 10).
  const afterUrl = await db('bench_appends_after');
  const log = await createPostgresSessionLog({ connectionString: afterUrl, poolSize: 10 });
  let started = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let k = 0; k < PER_WRITER; k++) await log.append(randomUUID(), drafts(w, k));
  }));
  const afterSeconds = (performance.now() - started) / 1000;
  const size = await log.treeSize();
  const leaves = await log.leaves(0, size);
  const gapFree = leaves.length === size && leaves.every((l, i) => l.index === i) && size === WRITERS * PER_WRITER * 3;
  await log.close();
  // Before: the same appends through the old statement, same pool size.
  const beforeUrl = await db('bench_appends_before');
  await (await createPostgresSessionLog({ connectionString: beforeUrl, poolSize: 1 })).close();
  const pool = new pg.Pool({ connectionString: beforeUrl, max: 10 });
  // The old statement writes no log_index, which the store now refuses (gatehouse_check_log_index):
  // the baseline runs on the schema as it was before the global log, without that trigger.
  await pool.query('DROP TRIGGER gatehouse_session_events_next_index ON gatehouse_session_events');
  started = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    for (let k = 0; k < PER_WRITER; k++) {
      const sid = randomUUID();
      const evs = chainEvents(sid, null, drafts(w, k), new Date());
      await pool.query(APPEND_BEFORE, [sid, evs.map((e) => e.seq), evs.map((e) => e.type), evs[0]!.at, evs.map((e) => e.at), evs.map((e) => JSON.stringify(e.data)), evs.map((e) => e.prevHash), evs.map((e) => e.hash), true]);
    }
  }));
  const beforeSeconds = (performance.now() - started) / 1000;
  await pool.end();
  const appends = WRITERS * PER_WRITER;
  return {
    writers: WRITERS,
    appends,
    eventsPerAppend: 3,
    withGlobalIndex: { seconds: round(afterSeconds), appendsPerSecond: Math.round(appends / afterSeconds) },
    before: { seconds: round(beforeSeconds), appendsPerSecond: Math.round(appends / beforeSeconds) },
    globalIndicesGapFreeAndUnique: gapFree,
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await runChild(process.argv.slice(3))));
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchEvidence(), null, 2));
}
