// A loopback TCP relay that counts round trips, for `npm run bench -- e2e`. It sits between the
// gateway and a PostgreSQL server and sees bytes only (no protocol knowledge), so it keeps
// counting whatever the engine on the other side becomes (pipelined or not).
//
// A turn is one request→response exchange on one connection: client bytes that follow server
// bytes (or open the connection). Several client writes before the server answers — a pipeline,
// or Parse/Bind/Describe/Execute/Sync written one message at a time — are one turn; every chunk
// is still counted, so the number of client writes the relay received shows how much the client
// flushes. A turn records when its first client bytes arrived and when the server first answered.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Turn {
  /** Which relayed connection (1, 2, … in the order they were accepted). */
  readonly connection: number;
  /** hrtime (CLOCK_MONOTONIC, ns) of the turn's first client bytes: comparable across processes. */
  readonly clientAt: bigint;
  /** hrtime of the server's first bytes in answer; undefined while it has not answered. */
  serverAt: bigint | undefined;
  /** Client chunks (reads on the relay's side: ≈ the client's flushes) in this turn. */
  clientChunks: number;
  clientBytes: number;
  serverBytes: number;
}

/** The pure core: feed it who sent bytes on which connection, it keeps the turns. */
export interface TurnCounter {
  opened(connection: number): void;
  client(connection: number, bytes: number, at?: bigint): void;
  server(connection: number, bytes: number, at?: bigint): void;
  /** Every turn since the last reset, in the order they began. */
  turns(): readonly Turn[];
  /** Connections accepted since the last reset. */
  connectionsOpened(): number;
  /** Forget the turns so far (a phase boundary); a turn in progress is not carried over. */
  reset(): void;
}

export function createTurnCounter(): TurnCounter {
  let turns: Turn[] = [];
  let opened = 0;
  // Per connection: the turn in progress and who spoke last.
  const state = new Map<number, { last: 'client' | 'server' | 'none'; turn?: Turn }>();
  const of = (c: number) => {
    let s = state.get(c);
    if (!s) state.set(c, (s = { last: 'none' }));
    return s;
  };
  return {
    opened(c) {
      opened++;
      state.set(c, { last: 'none' });
    },
    client(c, bytes, at = process.hrtime.bigint()) {
      const s = of(c);
      if (s.last !== 'client' || !s.turn) {
        s.turn = { connection: c, clientAt: at, serverAt: undefined, clientChunks: 0, clientBytes: 0, serverBytes: 0 };
        turns.push(s.turn);
      }
      s.turn.clientChunks++;
      s.turn.clientBytes += bytes;
      s.last = 'client';
    },
    server(c, bytes, at = process.hrtime.bigint()) {
      const s = of(c);
      // Bytes the server sends unprompted (a NOTICE, a ParameterStatus) belong to no turn.
      if (s.turn) {
        s.turn.serverAt ??= at;
        s.turn.serverBytes += bytes;
      }
      s.last = 'server';
    },
    turns: () => turns,
    connectionsOpened: () => opened,
    reset() {
      turns = [];
      opened = 0;
      // A turn in progress stays attached to its connection but out of the new list.
    },
  };
}

export interface CountingRelay extends TurnCounter {
  readonly port: number;
  /** `url` with its host and port replaced by the relay's. */
  via(url: string): string;
  close(): Promise<void>;
}

/** Listens on a free loopback port and forwards every connection to `target`. */
export async function startCountingRelay(target: { host: string; port: number }): Promise<CountingRelay> {
  const counter = createTurnCounter();
  const sockets = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const id = ++next;
    counter.opened(id);
    client.setNoDelay(true);
    const upstream = connect(target.port, target.host);
    upstream.setNoDelay(true);
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      counter.client(id, chunk.length);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      counter.server(id, chunk.length);
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    ...counter,
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Turns that began and were answered inside a window [t0, t1] (one HTTP request, one at a time). */
export function turnsWithin(turns: readonly Turn[], t0: bigint, t1: bigint): { inside: number; answeredAfter: number } {
  let inside = 0;
  let answeredAfter = 0;
  for (const t of turns) {
    if (t.clientAt < t0 || t.clientAt > t1) continue;
    if (t.serverAt !== undefined && t.serverAt <= t1) inside++;
    else answeredAfter++;
  }
  return { inside, answeredAfter };
}

/**
 * The most turns, across relays, inside [t0, t1] of which no two overlap in time: the round trips
 * the answer waited for one after another. A turn that runs beside another (a read's session reset
 * beside the store's result append) is inside the window but not on this chain. Greedy by answer
 * time, which gives the maximum for intervals.
 */
export function sequentialWithin(relays: readonly (readonly Turn[])[], t0: bigint, t1: bigint): number {
  const inside = relays
    .flat()
    .filter((t) => t.clientAt >= t0 && t.serverAt !== undefined && t.serverAt <= t1)
    .sort((a, b) => (a.serverAt! < b.serverAt! ? -1 : a.serverAt! > b.serverAt! ? 1 : 0));
  let chain = 0;
  let free = t0;
  for (const t of inside) {
    if (t.clientAt < free) continue;
    chain++;
    free = t.serverAt!;
  }
  return chain;
}

/** One step of the typical one-at-a-time request, as the relays saw it. */
export interface WaterfallStep {
  /** `gateway` for time between turns (the gateway's own work, and the HTTP legs), else the relay's name. */
  readonly where: string;
  readonly meanMs: number;
  /** For a turn: the mean bytes sent and received. */
  readonly clientBytes?: number;
  readonly serverBytes?: number;
}

export interface Waterfall {
  /** Requests whose turns came in the most common order (the rest are left out). */
  readonly requests: number;
  readonly of: number;
  /** e.g. `store target target … store`. */
  readonly shape: string;
  readonly meanMs: number;
  readonly steps: readonly WaterfallStep[];
}

/**
 * The average request laid out in time: the gateway's own time (before the first turn, between
 * turns, after the last) and each turn's wait, in order, over the requests that share the most
 * common sequence of turns. Windows are one-at-a-time requests: no turns of two requests overlap.
 */
export function waterfall(relays: Readonly<Record<string, readonly Turn[]>>, windows: readonly (readonly [bigint, bigint])[]): Waterfall | undefined {
  const all = Object.entries(relays).flatMap(([where, turns]) => turns.map((t) => ({ where, t })));
  all.sort((a, b) => (a.t.clientAt < b.t.clientAt ? -1 : a.t.clientAt > b.t.clientAt ? 1 : 0));
  interface Laid {
    readonly t0: bigint;
    readonly t1: bigint;
    readonly turns: readonly { readonly where: string; readonly t: Turn }[];
  }
  const perRequest: Laid[] = windows.map(([t0, t1]) => ({
    t0,
    t1,
    turns: all.filter(({ t }) => t.clientAt >= t0 && t.serverAt !== undefined && t.serverAt <= t1),
  }));
  const shapes = new Map<string, Laid[]>();
  for (const r of perRequest) {
    const shape = r.turns.map((x) => x.where).join(' ');
    shapes.set(shape, [...(shapes.get(shape) ?? []), r]);
  }
  const [shape, requests] = [...shapes.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
  if (shape === undefined || !requests || requests.length === 0) return undefined;
  const n = requests.length;
  const len = requests[0]!.turns.length;
  const ms = (ns: bigint) => Number(ns) / 1e6;
  const mean = (f: (r: Laid) => number) => Math.round((requests.reduce((a, r) => a + f(r), 0) / n) * 1000) / 1000;
  const steps: WaterfallStep[] = [];
  for (let i = 0; i <= len; i++) {
    // The gateway's time before turn i (from the request's start, or from turn i-1's answer).
    const gap = mean((r) => {
      const from = i === 0 ? r.t0 : r.turns[i - 1]!.t.serverAt!;
      const to = i === len ? r.t1 : r.turns[i]!.t.clientAt;
      return ms(to - from);
    });
    steps.push({ where: 'gateway', meanMs: gap });
    if (i === len) break;
    steps.push({
      where: requests[0]!.turns[i]!.where,
      meanMs: mean((r) => ms(r.turns[i]!.t.serverAt! - r.turns[i]!.t.clientAt)),
      clientBytes: Math.round(mean((r) => r.turns[i]!.t.clientBytes)),
      serverBytes: Math.round(mean((r) => r.turns[i]!.t.serverBytes)),
    });
  }
  return { requests: n, of: windows.length, shape, meanMs: mean((r) => ms(r.t1 - r.t0)), steps };
}
