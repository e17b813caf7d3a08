// The one append algorithm every SessionLog adapter runs (issue 17 item 3): chain each caller's
// drafts onto its session's head (seq, prevHash, hash), gather concurrent appends into one batch,
// and hand the batch to the adapter for ONE durable, atomic write (a multi-row INSERT on
// PostgreSQL, one commit on Firestore). The adapter assigns the batch's global log indices.
//
// Group commit: one write is in flight per process at a time. While it is, new appends queue up;
// when it ends, the queue (up to maxBatchEvents events) becomes the next write. An idle writer
// starts as soon as the caller's synchronous code is done (a microtask), or after maxWaitMs when
// set, so appends made together share a write without anyone waiting on a timer. Each caller's promise settles only with ITS
// batch: resolved once the store said the write is durable, rejected (audit_unavailable) when
// it was not — so recording before execution still holds per caller, and a caller whose record
// failed runs nothing.
//
// Why one write in flight: the next batch chains on heads the last one made durable, so a failed
// batch can never leave a later one pointing at events that do not exist (a seq gap the store's
// primary key would not catch). PostgreSQL serialises the global index under one lock anyway.
//
// A failing member: the store's uniqueness check (a seq or a global index another process took)
// fails the whole write, and nothing of it is stored. Every member of that batch is then retried
// on its own, on heads read from the store, up to maxAttempts — so one member's conflict neither
// fails the others nor lets them pass silently; each still learns its own outcome. Any other
// failure (timeout, outage) rejects every member of the batch: their events were not written,
// and the server-side timeout (the adapters') makes sure they never are later.
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatehouseError } from '../errors.ts';
import { chainEvents, type ChainHead } from './chain.ts';
import type { EventDraft, SessionEvent } from './events.ts';
import { HeadCache } from './head-cache.ts';

/** One caller's append, chained and ready to be written. */
export interface ChainedAppend {
  readonly sessionId: string;
  /** This append starts the session (it had no events): the store creates the session record. */
  readonly starts: boolean;
  readonly events: readonly SessionEvent[];
}

/** What an adapter provides: its store's reads and its one durable write. */
export interface DurableStore {
  /** The session's last stored event, read from the store (after a lost race). */
  readHead(sessionId: string): Promise<ChainHead | null>;
  /**
   * Refuses one append before anything is written (throw), e.g. an event the store cannot hold;
   * otherwise returns its size in bytes as the store counts it, for maxBatchBytes.
   */
  admit?(append: ChainedAppend): number;
  /**
   * Writes every append of the batch in one atomic, durable write: all of it or none. Resolves,
   * once durable, with the global index of the batch's first event; the others follow in batch order.
   */
  write(batch: readonly ChainedAppend[]): Promise<number>;
  /** The store's uniqueness check refused the write: another writer took a seq or an index first. */
  lostRace(error: unknown): boolean;
  /** The error a caller whose events are not durable gets. */
  unavailable(error: unknown, more: Record<string, unknown>): GatehouseError;
  /** After a failed write: forget whatever the adapter assumed about the store (its log head). */
  reset?(): void;
}

export interface AppendPathOptions {
  readonly clock: () => Date;
  /** A batch closes at this many events (an append larger than this is written alone); default 64. */
  readonly maxBatchEvents?: number;
  /**
   * A batch closes before it would hold more than this many bytes (as admit() counts them; an
   * append larger than this is written alone): a store's request limit must not turn appends that
   * would each succeed into a batch that fails. Default: no bound.
   */
  readonly maxBatchBytes?: number;
  /** How long an idle writer waits for company; default 0 (a microtask: no timer), at most 1 ms. */
  readonly maxWaitMs?: number;
  /** Attempts per append when the store keeps refusing it as a lost race; default 32. */
  readonly maxAttempts?: number;
  /** Session heads remembered; default 10,000. */
  readonly cachedHeads?: number;
}

/**
 * How an append may be placed. `after`: only right after this event (compare-and-append): if the
 * session's head has moved past it — someone else appended meanwhile — the append is refused
 * (`audit_unavailable`, `details.reason: "session_moved"`, `recorded: "no"`) rather than chained
 * after whatever came. A judgement made on the session as it stood (reconciliation's abandoned, the
 * gateway's result) must not land on a session that has changed since.
 */
export interface AppendOptions {
  readonly after?: ChainHead;
}

export interface AppendPath {
  append(sessionId: string, drafts: readonly EventDraft[], options?: AppendOptions): Promise<SessionEvent[]>;
  /** Resolves once nothing is queued, waiting for a retry, or being written. */
  drain(): Promise<void>;
  /** Resolves once every append accepted before this call has settled (durable or refused). */
  settled(): Promise<void>;
  /** What the writer did so far: for tests and the benchmark. */
  stats(): AppendStats;
}

export interface AppendStats {
  /** Durable writes attempted (batches sent to the store). */
  readonly writes: number;
  /** Appends that were written as part of a batch of more than one. */
  readonly grouped: number;
  /** Batches refused as a lost race, whose members were retried one by one. */
  readonly lostRaces: number;
  readonly largestBatch: number;
}

/** What a SessionLog adapter on this append path adds to the port: what its writer did. */
export interface GroupCommitStats {
  readonly appendStats: () => AppendStats;
}

export const DEFAULT_MAX_BATCH_EVENTS = 64;

interface Member {
  readonly sessionId: string;
  readonly drafts: readonly EventDraft[];
  /** One time per append, not per attempt: a retry is the same append, not a later one. */
  readonly now: Date;
  readonly attempt: number;
  /** Retried after a lost race: written alone, on the head read from the store. */
  readonly alone: boolean;
  /** Only right after this head (AppendOptions.after); never re-chained. */
  readonly after?: ChainHead;
  resolve(events: SessionEvent[]): void;
  reject(error: unknown): void;
}

export function createAppendPath(store: DurableStore, options: AppendPathOptions): AppendPath {
  const maxBatchEvents = options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS;
  const maxWaitMs = options.maxWaitMs ?? 0;
  const maxAttempts = options.maxAttempts ?? 32;
  const maxBatchBytes = options.maxBatchBytes ?? Infinity;
  if (!(Number.isInteger(maxBatchEvents) && maxBatchEvents >= 1)) throw new TypeError('append path: maxBatchEvents must be a positive integer');
  if (!(Number.isFinite(maxWaitMs) && maxWaitMs >= 0 && maxWaitMs <= 1)) throw new TypeError('append path: maxWaitMs must be between 0 and 1');
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new TypeError('append path: maxAttempts must be a positive integer');
  const heads = new HeadCache(options.cachedHeads ?? 10_000);
  const queue: Member[] = [];
  let writing = false;
  let scheduled = false;
  let retrying = 0;
  let idle: (() => void)[] = [];
  const pending = new Set<Promise<unknown>>();
  const stats = { writes: 0, grouped: 0, lostRaces: 0, largestBatch: 0 };

  function append(sessionId: string, drafts: readonly EventDraft[], placement: AppendOptions = {}): Promise<SessionEvent[]> {
    if (drafts.length === 0) return Promise.resolve([]);
    const now = options.clock();
    const after = placement.after ? { seq: placement.after.seq, hash: placement.after.hash } : undefined;
    const appended = new Promise<SessionEvent[]>((resolve, reject) =>
      enqueue({ sessionId, drafts: [...drafts], now, attempt: 1, alone: false, ...(after ? { after } : {}), resolve, reject }),
    );
    const done: Promise<unknown> = appended.then(
      (): boolean => pending.delete(done),
      (): boolean => pending.delete(done),
    );
    pending.add(done);
    return appended;
  }

  async function settled(): Promise<void> {
    await Promise.all([...pending]);
  }

  function enqueue(m: Member): void {
    queue.push(m);
    kick();
  }

  function kick(): void {
    if (writing || scheduled) return;
    if (queue.length === 0) {
      if (retrying === 0) settleIdle();
      return;
    }
    scheduled = true;
    const go = () => {
      scheduled = false;
      void flush();
    };
    // An idle writer starts once the code that called append() has run to its next await (a
    // microtask): appends made together join, and a lone append waits for no timer or loop turn.
    // Appends arriving while a write is in flight join the next one.
    if (maxWaitMs > 0 && queuedEvents() < maxBatchEvents) setTimeout(go, maxWaitMs);
    else queueMicrotask(go);
  }

  function queuedEvents(): number {
    let n = 0;
    for (const m of queue) n += m.drafts.length;
    return n;
  }

  /** The next batch: a retried member alone, or members in arrival order up to maxBatchEvents. */
  function take(): Member[] {
    const first = queue.shift()!;
    if (first.alone) return [first];
    const batch = [first];
    let events = first.drafts.length;
    while (queue.length > 0 && !queue[0]!.alone && events + queue[0]!.drafts.length <= maxBatchEvents) {
      const m = queue.shift()!;
      events += m.drafts.length;
      batch.push(m);
    }
    return batch;
  }

  async function flush(): Promise<void> {
    if (queue.length === 0) return kick();
    writing = true;
    try {
      await write(take());
    } finally {
      writing = false;
      kick();
    }
  }

  async function write(members: Member[]): Promise<void> {
    const prepared: { m: Member; a: ChainedAppend }[] = [];
    // Heads this batch has already moved: the second append to a session in one batch chains on the first.
    const moved = new Map<string, ChainHead>();
    let bytes = 0;
    for (const [i, m] of members.entries()) {
      let head: ChainHead | null;
      if (m.after) {
        // Compare-and-append: this member goes right after `after` or not at all. A head this
        // batch or this process already knows to be elsewhere refuses it before any write. Retried
        // after a lost race, it asks the store: the race may have been for the global log's next
        // index (another instance appended to another session), not for this session.
        let known: ChainHead | null | undefined = moved.get(m.sessionId) ?? heads.get(m.sessionId);
        if (m.alone && !moved.has(m.sessionId)) {
          try {
            known = await store.readHead(m.sessionId);
          } catch (e) {
            m.reject(store.unavailable(e, { attempts: m.attempt }));
            continue;
          }
        }
        if (known !== undefined && (known === null || known.seq !== m.after.seq || known.hash !== m.after.hash)) {
          m.reject(sessionMoved(m));
          continue;
        }
        head = m.after;
      } else {
        try {
          head = moved.get(m.sessionId) ?? (m.alone ? await store.readHead(m.sessionId) : (heads.get(m.sessionId) ?? null));
        } catch (e) {
          m.reject(store.unavailable(e, { attempts: m.attempt }));
          continue;
        }
      }
      let events: SessionEvent[];
      try {
        events = chainEvents(m.sessionId, head, m.drafts, m.now);
      } catch (e) {
        // Data JSON cannot carry (BigInt, cycles) or RFC 8785 refuses (lone surrogates): the
        // caller's to fix, and retrying or reporting an outage would hide it. Only this member fails.
        m.reject(new TypeError(`session events cannot be hashed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        continue;
      }
      const a: ChainedAppend = { sessionId: m.sessionId, starts: head === null, events };
      let size = 0;
      try {
        size = store.admit?.(a) ?? 0;
      } catch (e) {
        m.reject(e);
        continue;
      }
      if (prepared.length > 0 && bytes + size > maxBatchBytes) {
        // Full: this member and the ones after it (kept in order) open the next batch.
        queue.unshift(...members.slice(i));
        break;
      }
      bytes += size;
      moved.set(m.sessionId, events.at(-1)!);
      prepared.push({ m, a });
    }
    if (prepared.length === 0) return;

    stats.writes++;
    stats.largestBatch = Math.max(stats.largestBatch, prepared.length);
    let first: number;
    try {
      first = await store.write(prepared.map((p) => p.a));
    } catch (e) {
      // Nothing of the batch is stored (one atomic write); what this process assumed may be stale.
      for (const { a } of prepared) heads.forget(a.sessionId);
      store.reset?.();
      const raced = store.lostRace(e);
      if (raced) stats.lostRaces++;
      for (const { m } of prepared) {
        // A compare-and-append is retried like the rest: alone, it reads its session's head first
        // and is refused (session_moved) only if the session really moved.
        if (raced && m.attempt < maxAttempts) retry(m);
        else m.reject(store.unavailable(e, { attempts: m.attempt, ...(prepared.length > 1 ? { batch: prepared.length } : {}) }));
      }
      return;
    }
    if (prepared.length > 1) stats.grouped += prepared.length;
    let index = first;
    for (const { m, a } of prepared) {
      const stored = a.events.map((e) => ({ ...e, index: index++ }));
      heads.remember(m.sessionId, stored.at(-1)!);
      m.resolve(stored);
    }
  }

  function sessionMoved(m: Member): GatehouseError {
    const cause = new Error(`session ${m.sessionId} has moved past seq ${m.after!.seq}`);
    return store.unavailable(cause, { attempts: m.attempt, reason: 'session_moved', after: m.after!.seq, recorded: 'no' });
  }

  function retry(m: Member): void {
    retrying++;
    // Jittered, growing: racers that collided once should not collide again in lockstep. The
    // wait is the member's own; the writer goes on with the others meanwhile.
    void sleep(Math.random() * Math.min(100, 2 ** m.attempt)).then(() => {
      retrying--;
      enqueue({ ...m, attempt: m.attempt + 1, alone: true });
    });
  }

  function settleIdle(): void {
    const waiting = idle;
    idle = [];
    waiting.forEach((resume) => resume());
  }

  function drain(): Promise<void> {
    if (!writing && !scheduled && queue.length === 0 && retrying === 0) return Promise.resolve();
    return new Promise((resume) => idle.push(resume));
  }

  return { append, drain, settled, stats: () => ({ ...stats }) };
}
