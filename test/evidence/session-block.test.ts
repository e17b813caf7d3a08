// checkSessionBlock's one-pass check of an intact chain (verify-session.ts intactChain) against
// the full analysis: an intact chain still reports type and schema problems, in seq order; and
// every way of being almost intact (the head, the first link, the order in the file, a missing
// or extra event) falls back to the full analysis and is named as before.
import test from 'ava';
import { chainEvents, hashEvent } from '../../shared/audit/chain.ts';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { checkSessionBlock, type Found } from '../../shared/evidence/verify-session.ts';

const drafts = [
  { type: 'request', data: { sql: 'SELECT 1' } },
  { type: 'analysis.forged', data: {} },
  { type: 'decision', data: { action: 'allow', approvers: 'group:dba' } },
  { type: 'decision', data: { action: 'allow' } },
] as const;
const events = (): SessionEvent[] => chainEvents('s-1', null, drafts as never, new Date(0));
const found = (evs: readonly SessionEvent[], lines = evs.map((_, i) => i + 1)): Found[] => evs.map((event, i) => ({ event, line: lines[i]! }));
const kinds = (evs: readonly SessionEvent[], n = evs.length, head = evs.at(-1)!.hash, lines?: number[]) =>
  checkSessionBlock('s-1', found(evs, lines), { events: n, head }).problems.map((p) => [p.kind, p.seq]);

test('an intact chain: only its type and schema problems, in seq order, no gaps', (t) => {
  const evs = events();
  const r = checkSessionBlock('s-1', found(evs), { events: 4, head: evs[3]!.hash });
  t.deepEqual(r.problems.map((p) => [p.kind, p.seq, p.field]), [['event_modified', 1, undefined], ['event_schema', 2, 'data.approvers']]);
  t.regex(r.problems[0]!.message, /type Gatehouse never writes/);
  t.deepEqual(r.gaps, []);
});

test('almost intact chains fall back to the full analysis and are named', (t) => {
  const evs = events();
  // The head the manifest gives is another.
  t.deepEqual(kinds(evs, 4, '0'.repeat(64)), [['event_modified', 1], ['event_schema', 2], ['head_mismatch', 3]]);
  // Event 0 re-hashed with a prevHash: it starts no chain, and event 1 no longer links to it.
  const first = { ...evs[0]!, prevHash: 'f'.repeat(64) };
  const { hash: _h, ...rest } = first;
  const rehashed = [{ ...first, hash: hashEvent(rest) }, ...evs.slice(1)];
  t.true(kinds(rehashed).some(([k, s]) => k === 'event_modified' && s === 0));
  // Two events' lines swapped in the file.
  t.true(kinds(evs, 4, evs[3]!.hash, [1, 3, 2, 4]).some(([k]) => k === 'event_reordered'));
  // The last event missing: a gap, not a pass.
  const r = checkSessionBlock('s-1', found(evs.slice(0, 3)), { events: 4, head: evs[3]!.hash });
  t.deepEqual(r.gaps.map((g) => g.seq), [3]);
  // An event beyond the head.
  t.true(kinds(evs, 3, evs[2]!.hash).some(([k, s]) => k === 'event_inserted' && s === 3));
  // A modified event whose hash no longer holds.
  const modified = evs.map((e, i) => (i === 2 ? { ...e, data: { action: 'deny' } } : e));
  t.true(kinds(modified).some(([k, s]) => k === 'event_modified' && s === 2));
  // An empty block is never "intact".
  t.deepEqual(checkSessionBlock('s-1', [], { events: 1, head: evs[0]!.hash }).gaps.map((g) => g.seq), [0]);
});
