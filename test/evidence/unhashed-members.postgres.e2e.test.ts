// Attack: words added to events.jsonl that no hash covers. An event's hash covers sessionId, seq,
// type, at, data and prevHash; `hash` and `index` are checked against it and the log. Any other
// member of a line — `"approvedBy":"cfo@acme.com"`, `"note":"reviewed"` — was read and kept by
// both passes: report.html embeds the parsed events, so it showed for the sessions the report
// holds, but for every older one (a report holds the last 5,000) verify said OK with the line
// carrying words the signed log never held. Real PostgreSQL, a real export; every pass of verify.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { copyOf, editJson } from './helpers.ts';

const session = (sql: string): EventDraft[] => [
  { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: 'bot', email: 'bot@example.com', groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql } },
  { type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: ['no rule allows it'], policySha256: 'p'.repeat(64) } },
];
const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });

async function everyPass(t: ExecutionContext, dir: string): Promise<VerifyResult> {
  const runs: VerifyResult[] = [];
  for (const workers of [0, 2]) for (const fullPass of [false, true]) runs.push(await verifyEvidence(dir, { workers, fullPass }));
  for (const r of runs.slice(1)) t.deepEqual(answer(r), answer(runs[0]!), 'every pass gives the same answer');
  return runs[0]!;
}

function fixDigest(dir: string, file: string): void {
  editJson(join(dir, 'manifest.json'), (m) => {
    const bytes = readFileSync(join(dir, file));
    m.files[file] = { ...m.files[file], sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  });
}

let exported = '';
let firstSession = '';
test.before(async () => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  try {
    const from = new Date(Date.now() - 60_000);
    firstSession = `old-${Date.now()}`;
    await log.append(firstSession, session('DELETE FROM orders'));
    await log.append(`new-${Date.now()}`, session('SELECT 1'));
    exported = join(mkdtempSync(join(tmpdir(), 'gatehouse-unhashed-')), 'export');
    // The report holds the last session only: the first is in events.jsonl, not in report.html.
    await exportEvidence(log, { from, to: new Date(Date.now() + 60_000), out: exported, source: 'test', report: { maxSessions: 1 } });
  } finally {
    await log.close();
    await db.drop();
  }
});

test.after.always(() => {
  if (exported) rmSync(join(exported, '..'), { recursive: true, force: true });
});

test('the untouched export verifies, its first session outside the report', async (t) => {
  const r = await everyPass(t, exported);
  t.true(r.ok, JSON.stringify(r.problems));
  t.false(readFileSync(join(exported, 'report.html'), 'utf8').includes(firstSession), 'the first session is not embedded in the report');
});

const members: Record<string, (line: string) => string> = {
  'a member appended ("approvedBy")': (l) => `${l.slice(0, -1)},"approvedBy":"cfo@acme.com"}`,
  'a member first ("note")': (l) => `{"note":"reviewed, fine",${l.slice(1)}`,
  'a __proto__ member': (l) => `${l.slice(0, -1)},"__proto__":{"type":"decision"}}`,
};
for (const [name, edit] of Object.entries(members)) {
  test(`a line of an event outside the report given ${name}: event_modified, in every pass`, async (t) => {
    const dir = copyOf(t, exported);
    const path = join(dir, 'events.jsonl');
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    const at = lines.findIndex((l) => JSON.parse(l).sessionId === firstSession && JSON.parse(l).type === 'decision');
    lines[at] = edit(lines[at]!);
    writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
    fixDigest(dir, 'events.jsonl');
    const r = await everyPass(t, dir);
    t.false(r.ok, 'words no hash covers are not the log');
    t.true(r.problems.some((p) => p.kind === 'event_modified' && p.sessionId === firstSession && p.line === at + 1), JSON.stringify(r.problems));
  });
}
