// The e2e bench's round-trip counter (bench/e2e/relay.ts) counts what it claims to, against a
// real PostgreSQL: the README's "round trips per request" figures come from it.
import test from 'ava';
import pg from 'pg';
import { createTurnCounter, startCountingRelay, turnsWithin, waterfall, type CountingRelay } from '../../bench/e2e/relay.ts';
import { testPgUrl } from '../helpers/pg.ts';

async function relayed(): Promise<{ relay: CountingRelay; client: pg.Client }> {
  const url = new URL(testPgUrl());
  const relay = await startCountingRelay({ host: url.hostname, port: Number(url.port) });
  const client = new pg.Client({ connectionString: relay.via(testPgUrl()) });
  await client.connect();
  await client.query('SELECT 1'); // settle the start-up exchange before counting
  relay.reset();
  return { relay, client };
}

async function done(r: { relay: CountingRelay; client: pg.Client }): Promise<void> {
  await r.client.end();
  await r.relay.close();
}

test('a simple query is one turn', async (t) => {
  const r = await relayed();
  try {
    const res = await r.client.query('SELECT 41 + 1 AS n');
    t.is(res.rows[0].n, 42);
    t.is(r.relay.turns().length, 1);
    t.truthy(r.relay.turns()[0]!.serverAt, 'the server answered inside the turn');
  } finally {
    await done(r);
  }
});

test('an extended query (Parse/Bind/Describe/Execute/Sync, written message by message) is one turn', async (t) => {
  const r = await relayed();
  try {
    const res = await r.client.query({ text: 'SELECT $1::int + 1 AS n', values: [41] });
    t.is(res.rows[0].n, 42);
    const turns = r.relay.turns();
    t.is(turns.length, 1);
    t.true(turns[0]!.clientChunks >= 1);
  } finally {
    await done(r);
  }
});

test('two awaited queries are two turns; a multi-statement simple query is one', async (t) => {
  const r = await relayed();
  try {
    await r.client.query('SELECT 1');
    await r.client.query({ text: 'SELECT $1::text', values: ['x'] });
    t.is(r.relay.turns().length, 2);
    r.relay.reset();
    await r.client.query('SELECT 1; SELECT 2; SELECT 3');
    t.is(r.relay.turns().length, 1);
    r.relay.reset();
    // BEGIN, a statement, COMMIT awaited one after another: three turns.
    await r.client.query('BEGIN');
    await r.client.query('SELECT 1');
    await r.client.query('COMMIT');
    t.is(r.relay.turns().length, 3);
  } finally {
    await done(r);
  }
});

test('queries sent without waiting (pg queues them) are still counted one turn each', async (t) => {
  // pg writes a queued query only after the previous answer: the relay must not merge them.
  const r = await relayed();
  try {
    await Promise.all([r.client.query('SELECT 1'), r.client.query('SELECT 2'), r.client.query('SELECT 3')]);
    t.is(r.relay.turns().length, 3);
  } finally {
    await done(r);
  }
});

test('turns on two connections are counted apart, and a new connection shows its start-up exchange', async (t) => {
  const url = new URL(testPgUrl());
  const relay = await startCountingRelay({ host: url.hostname, port: Number(url.port) });
  const a = new pg.Client({ connectionString: relay.via(testPgUrl()) });
  const b = new pg.Client({ connectionString: relay.via(testPgUrl()) });
  try {
    await a.connect();
    t.is(relay.turns().length, 1, 'the start-up message and its answer (trust authentication: no password exchange) are a turn too');
    t.is(relay.connectionsOpened(), 1);
    await b.connect();
    relay.reset();
    await Promise.all([a.query('SELECT 1'), b.query('SELECT 2')]);
    const turns = relay.turns();
    t.is(turns.length, 2);
    t.deepEqual(new Set(turns.map((x) => x.connection)).size, 2);
  } finally {
    await Promise.allSettled([a.end(), b.end()]);
    await relay.close();
  }
});

test('the pure counter: pipelined client writes are one turn, unprompted server bytes none, windows split turns', (t) => {
  const c = createTurnCounter();
  c.opened(1);
  c.server(1, 10, 1n); // a NOTICE before anything was asked
  t.is(c.turns().length, 0);
  c.client(1, 5, 10n);
  c.client(1, 5, 11n);
  c.client(1, 5, 12n);
  c.server(1, 20, 20n);
  c.server(1, 20, 21n);
  c.client(1, 5, 30n); // answered after the window closes
  t.is(c.turns().length, 2);
  t.is(c.turns()[0]!.clientChunks, 3);
  t.is(c.turns()[0]!.serverAt, 20n);
  t.deepEqual(turnsWithin(c.turns(), 5n, 25n), { inside: 1, answeredAfter: 0 });
  c.server(1, 1, 40n);
  t.deepEqual(turnsWithin(c.turns(), 5n, 35n), { inside: 1, answeredAfter: 1 });
  t.deepEqual(turnsWithin(c.turns(), 5n, 45n), { inside: 2, answeredAfter: 0 });
});

test('the waterfall lays out the most common order of turns: the gateway\'s gaps and each turn\'s wait', (t) => {
  const store = createTurnCounter();
  const target = createTurnCounter();
  // Request 1 (0–100 ms): store 10→20, target 30→35, store 40→60, answer at 100.
  // Request 2 (200–300 ms): same order; waits 20, 15, 10.
  // Request 3 (400–450 ms): target only (a different shape: left out).
  const ms = (x: number) => BigInt(x * 1e6);
  const turn = (c: ReturnType<typeof createTurnCounter>, conn: number, a: number, b: number) => {
    c.client(conn, 100, ms(a));
    c.server(conn, 50, ms(b));
  };
  turn(store, 1, 10, 20);
  turn(target, 1, 30, 35);
  turn(store, 1, 40, 60);
  turn(store, 1, 210, 230);
  turn(target, 1, 240, 255);
  turn(store, 1, 265, 275);
  turn(target, 1, 410, 420);
  turn(target, 1, 460, 470); // after request 3 answered: off the critical path, not in the layout
  const w = waterfall({ target: target.turns(), store: store.turns() }, [
    [ms(0), ms(100)],
    [ms(200), ms(300)],
    [ms(400), ms(450)],
  ]);
  t.truthy(w);
  t.is(w!.shape, 'store target store');
  t.is(w!.requests, 2);
  t.is(w!.of, 3);
  t.is(w!.meanMs, 100);
  t.deepEqual(
    w!.steps.map((x) => [x.where, x.meanMs]),
    [
      ['gateway', 10], // (10 + 10) / 2
      ['store', 15], // (10 + 20) / 2
      ['gateway', 10], // (10 + 10) / 2
      ['target', 10], // (5 + 15) / 2
      ['gateway', 7.5], // (5 + 10) / 2
      ['store', 15], // (20 + 10) / 2
      ['gateway', 32.5], // (40 + 25) / 2
    ],
  );
  t.is(w!.steps.reduce((a, x) => a + x.meanMs, 0), w!.meanMs, 'the steps add up to the request');
  t.is(w!.steps[1]!.clientBytes, 100);
});

// --- a pipelining client (what issue 17 item 4's engine will be), spoken by hand over a socket ---

/** A minimal frontend: trust authentication, simple queries, reads whole backend messages. */
async function rawSession(relay: CountingRelay, database: string) {
  const { connect } = await import('node:net');
  const sock = connect(relay.port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  let buf = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiting?.();
  });
  /** Reads backend messages until `n` ReadyForQuery ('Z') have arrived. */
  const untilReady = async (n: number) => {
    let seen = 0;
    for (;;) {
      while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const type = String.fromCharCode(buf[0]!);
        buf = buf.subarray(1 + buf.readInt32BE(1));
        if (type === 'E') throw new Error('the server answered with an error');
        if (type === 'Z' && ++seen === n) return;
      }
      await new Promise<void>((resolve) => (waiting = resolve));
    }
  };
  const params = Buffer.from(`user\0postgres\0database\0${database}\0\0`);
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + params.length, 0);
  startup.writeInt32BE(196608, 4); // protocol 3.0
  sock.write(Buffer.concat([startup, params]));
  await untilReady(1);
  const query = (sql: string) => {
    const body = Buffer.from(`${sql}\0`);
    const head = Buffer.alloc(5);
    head.write('Q', 0);
    head.writeInt32BE(4 + body.length, 1);
    return Buffer.concat([head, body]);
  };
  return { sock, untilReady, query };
}

test('a pipeline — two queries in one write, both answers read after — is one turn; the same two queries awaited one by one are two', async (t) => {
  const url = new URL(testPgUrl());
  const relay = await startCountingRelay({ host: url.hostname, port: Number(url.port) });
  const s = await rawSession(relay, url.pathname.slice(1) || 'postgres');
  try {
    relay.reset();
    s.sock.write(Buffer.concat([s.query('SELECT 1'), s.query('SELECT 2')]));
    await s.untilReady(2);
    t.is(relay.turns().length, 1);
    relay.reset();
    // Written as two writes, still before any answer is read: one turn of two client chunks (or
    // one, if the kernel merged them) — the relay counts exchanges, not writes.
    s.sock.write(s.query('SELECT 1'));
    s.sock.write(s.query('SELECT 2'));
    await s.untilReady(2);
    t.true(relay.turns().length <= 2, 'never more turns than waits');
    relay.reset();
    s.sock.write(s.query('SELECT 1'));
    await s.untilReady(1);
    s.sock.write(s.query('SELECT 2'));
    await s.untilReady(1);
    t.is(relay.turns().length, 2);
  } finally {
    s.sock.destroy();
    await relay.close();
  }
});

test('an answer that arrives in many chunks (a 2 MB row) is still one turn, every byte counted', async (t) => {
  const r = await relayed();
  try {
    const res = await r.client.query("SELECT repeat('x', 2000000) AS big");
    t.is(res.rows[0].big.length, 2_000_000);
    const turns = r.relay.turns();
    t.is(turns.length, 1);
    t.true(turns[0]!.serverBytes > 2_000_000);
  } finally {
    await done(r);
  }
});
