// The process-wide bound on result bytes in flight (docs/outcomes.md, "Result bytes in flight").
// maxResultBytes caps one answer; this caps how many of them the process holds at once. Each copy
// of an answer (masking, the canonical JSON hashed for execution.result, the INSERT's parameters,
// the HTTP body) lives from the statement's first row until its answer is written, so a statement
// reserves its connection's maxResultBytes BEFORE it runs and gives it back once its answer is
// out. When the budget is taken it waits in a queue bounded in length and in time, then answers
// 503 `result_budget_exhausted` — its own code, not `pool_exhausted`: the target has free
// connections, it is this process's memory that is full, and the knob to turn is another one.
// A refused statement never reaches the target.
import { GatehouseError } from '../errors.ts';

export const DEFAULT_MAX_INFLIGHT_RESULT_BYTES = 32 * 1024 * 1024;
export const DEFAULT_RESULT_BUDGET_MAX_QUEUE = 256;
export const DEFAULT_RESULT_BUDGET_TIMEOUT_MS = 10_000;

export interface ResultBudgetOptions {
  /** Bytes of results the process may hold at once. */
  readonly maxBytes?: number;
  /** Statements that may wait; more are refused at once. */
  readonly maxQueue?: number;
  /** How long one waits before result_budget_exhausted. */
  readonly timeoutMs?: number;
}

export interface ResultBudget {
  /**
   * Resolves with a release function (idempotent) once `bytes` are reserved; rejects with
   * result_budget_exhausted. A reservation larger than the whole budget is clamped to it: that
   * statement runs alone rather than never.
   */
  reserve(bytes: number): Promise<() => void>;
  readonly maxBytes: number;
  readonly reserved: number;
  readonly waiting: number;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

export function createResultBudget(options: ResultBudgetOptions = {}): ResultBudget {
  const maxBytes = positiveInteger('maxBytes', options.maxBytes ?? DEFAULT_MAX_INFLIGHT_RESULT_BYTES);
  const maxQueue = nonNegativeInteger('maxQueue', options.maxQueue ?? DEFAULT_RESULT_BUDGET_MAX_QUEUE);
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs ?? DEFAULT_RESULT_BUDGET_TIMEOUT_MS);
  let reserved = 0;
  // First come, first served: a large reservation at the head is not overtaken by small ones
  // forever (it would starve under a steady stream of them).
  const queue: Waiter[] = [];

  const releaser = (bytes: number) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      reserved -= bytes;
      drain();
    };
  };
  const drain = () => {
    while (queue.length > 0 && reserved + queue[0]!.bytes <= maxBytes) {
      const next = queue.shift()!;
      clearTimeout(next.timer);
      reserved += next.bytes;
      next.grant();
    }
  };

  return {
    maxBytes,
    get reserved() {
      return reserved;
    },
    get waiting() {
      return queue.length;
    },
    reserve(requested) {
      if (!Number.isInteger(requested) || requested <= 0) {
        return Promise.reject(new TypeError('result budget: a reservation must be a positive whole number of bytes'));
      }
      const bytes = Math.min(requested, maxBytes);
      if (queue.length === 0 && reserved + bytes <= maxBytes) {
        reserved += bytes;
        return Promise.resolve(releaser(bytes));
      }
      if (queue.length >= maxQueue) return Promise.reject(exhausted('queue_full', maxBytes, maxQueue));
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          bytes,
          grant: () => resolve(releaser(bytes)),
          timer: setTimeout(() => {
            const i = queue.indexOf(waiter);
            if (i >= 0) queue.splice(i, 1);
            reject(exhausted('queue_timeout', maxBytes, maxQueue));
            drain(); // the head left: the next may fit now
          }, timeoutMs),
        };
        queue.push(waiter);
      });
    },
  };
}

function exhausted(reason: 'queue_full' | 'queue_timeout', maxBytes: number, maxQueue: number): GatehouseError {
  return new GatehouseError('result_budget_exhausted', 'the gateway holds as many results as its memory budget allows; try again', {
    reason,
    maxInflightResultBytes: maxBytes,
    maxQueue,
  });
}

function positiveInteger(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`result budget: ${name} must be a positive whole number`);
  return n;
}

function nonNegativeInteger(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`result budget: ${name} must be a whole number, 0 or more`);
  return n;
}

/**
 * GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES (bytes, or with a KiB/MiB/GiB suffix): unset means the
 * default; anything else that is not a positive size refuses to start.
 */
export function resultBudgetFromEnv(env: NodeJS.ProcessEnv): ResultBudgetOptions {
  const raw = env.GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES;
  if (raw === undefined || raw === '') return {};
  const m = /^([1-9][0-9]{0,12})\s*(B|KiB|MiB|GiB)?$/.exec(raw.trim());
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m?.[2] ?? 'B']!;
  const bytes = m ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes)) throw new TypeError('GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES must be a positive size in bytes (e.g. 33554432 or 32MiB)');
  return { maxBytes: bytes };
}
