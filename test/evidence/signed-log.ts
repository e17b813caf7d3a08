// What the run-bounds and postdated suites share: a PostgreSQL session log whose clock the test
// sets, a local checkpoint signer beside it, a denied session's events, and verify run through
// every pass (in thread and in workers, clean and full) with the answers required to agree.
import type { ExecutionContext } from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import type { Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { tempDir } from './helpers.ts';

export interface SignedLog {
  /** A time in a future no other test uses (from `base`); the log's clock starts there. */
  readonly T: number;
  readonly log: Awaited<ReturnType<typeof createPostgresSessionLog>>;
  /** The state dir holding the signer's key and checkpoints. */
  readonly state: string;
  /** Sets the log's clock. */
  setNow(ms: number): void;
  /** Signs a checkpoint at this time (and asserts it was signed). */
  sign(at: number): Promise<void>;
  /** The checkpoints signed so far, oldest first. */
  checkpoints(): Promise<readonly Checkpoint[]>;
}

export async function signedLog(t: ExecutionContext, base: number, statePrefix: string): Promise<SignedLog> {
  const T = base + Math.floor(Math.random() * 2 ** 30) * 1000;
  let now = T;
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2, clock: () => new Date(now) });
  t.teardown(async () => {
    await log.close();
    await db.drop();
  });
  const state = tempDir(t, statePrefix);
  const local = localCheckpointing(state, { createKey: true });
  return {
    T,
    log,
    state,
    setNow: (ms) => (now = ms),
    sign: async (at) => {
      t.is((await checkpointOnce({ log, signer: local.signer, store: local.store, clock: () => new Date(at) })).kind, 'signed');
    },
    checkpoints: async () => (await local.store.list()).checkpoints,
  };
}

export const deniedSession = (sql: string): EventDraft[] => [
  { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: 'bot', email: 'bot@example.com', groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql } },
  { type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: ['no rule allows it'], policySha256: 'p'.repeat(64) } },
];

const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });

/** Verify in thread and in workers, clean pass and full: all four answers must agree. */
export async function everyPass(t: ExecutionContext, dir: string, state: string): Promise<VerifyResult> {
  const runs: VerifyResult[] = [];
  for (const workers of [0, 2]) for (const fullPass of [false, true]) runs.push(await verifyEvidence(dir, { workers, fullPass, checkpoints: state }));
  for (const r of runs.slice(1)) t.deepEqual(answer(r), answer(runs[0]!), 'every pass gives the same answer');
  return runs[0]!;
}
