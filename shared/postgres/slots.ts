// A bounded wait for a pooled client. pg.Pool queues without limit and, when connectionTimeoutMillis
// passes, fails with the same error as an unreachable server: under load the target answered
// `database_unavailable` while it was up (issue 15). Here the pool itself is never asked for more
// clients than it has, so a failure to connect is a real outage, and waiting for a busy pool is
// bounded twice — in length (the excess is refused at once) and in time — and answers
// `pool_exhausted`, a 503 of its own.
import { GatehouseError } from '../errors.ts';

export interface Slots {
  /** Resolves with a release function once a slot is free; rejects with pool_exhausted. */
  acquire(): Promise<() => void>;
  readonly active: number;
  readonly waiting: number;
}

export function createSlots(connection: string, size: number, maxQueue: number, timeoutMs: number): Slots {
  let active = 0;
  const queue: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  const release = () => {
    const next = queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.grant(); // the slot passes straight on: active stays the same
    } else {
      active--;
    }
  };
  const once = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };

  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    acquire() {
      if (active < size) {
        active++;
        return Promise.resolve(once());
      }
      if (queue.length >= maxQueue) return Promise.reject(exhausted(connection, 'queue_full', size, maxQueue));
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => resolve(once()),
          timer: setTimeout(() => {
            const i = queue.indexOf(entry);
            if (i >= 0) queue.splice(i, 1);
            reject(exhausted(connection, 'queue_timeout', size, maxQueue));
          }, timeoutMs),
        };
        queue.push(entry);
      });
    },
  };
}

function exhausted(connection: string, reason: string, poolSize: number, maxQueue: number): GatehouseError {
  return new GatehouseError('pool_exhausted', 'every pooled connection to the target is busy; try again', { connection, reason, poolSize, maxQueue });
}
