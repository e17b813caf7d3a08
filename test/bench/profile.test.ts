// The e2e bench's CPU breakdown (bench/e2e/profile.ts) and /proc readers (bench/e2e/proc.ts): the
// README's "what the time is made of" table comes from them.
import test from 'ava';
import { closeSync, openSync, writeSync } from 'node:fs';
import { bucketOf, summariseProfile, type CpuProfile } from '../../bench/e2e/profile.ts';
import { processCpuMs, writeSyscalls } from '../../bench/e2e/proc.ts';

const ROOT = 'file:///repo';

test('buckets: our folders, dependencies (scoped too), Node internals, WebAssembly', (t) => {
  t.is(bucketOf('file:///repo/shared/identity/verify.ts', ROOT), 'shared/identity');
  t.is(bucketOf('file:///repo/shared/gateway.ts', ROOT), 'shared/*.ts (gateway, config, …)');
  t.is(bucketOf('file:///repo/infra/local-server.ts', ROOT), 'infra');
  t.is(bucketOf('file:///repo/node_modules/pg-protocol/dist/parser.js', ROOT), 'pg-protocol');
  t.is(bucketOf('file:///repo/node_modules/@google-cloud/firestore/build/src/index.js', ROOT), '@google-cloud/firestore');
  // A dependency's own dependency counts for the one that brought it in.
  t.is(bucketOf('file:///repo/node_modules/pg/node_modules/pg-types/index.js', ROOT), 'pg');
  t.is(bucketOf('node:_http_server', ROOT), 'node: http');
  t.is(bucketOf('node:internal/crypto/sig', ROOT), 'node: crypto');
  t.is(bucketOf('node:net', ROOT), 'node: net + streams');
  t.is(bucketOf('wasm://wasm/0068d9c2', ROOT), 'WebAssembly (libpg-query parser)');
  t.is(bucketOf('', ROOT), undefined);
});

test('self time by bucket, idle apart; Node internals and native frames charged to their caller in the second view', (t) => {
  // root → identity.ts → node:crypto → (native verify)
  //      → node:net (socket read, no caller of ours)
  //      → (idle), (garbage collector)
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { url: '', functionName: '(root)' }, children: [2, 5, 6, 7, 8] },
      { id: 2, callFrame: { url: 'file:///repo/shared/identity/verify.ts', functionName: 'verify' }, children: [3] },
      { id: 3, callFrame: { url: 'node:internal/crypto/sig', functionName: 'verifyOneShot' }, children: [4] },
      { id: 4, callFrame: { url: '', functionName: 'verify' } },
      { id: 5, callFrame: { url: 'node:net', functionName: 'onStreamRead' } },
      { id: 6, callFrame: { url: '', functionName: '(idle)' } },
      { id: 7, callFrame: { url: '', functionName: '(garbage collector)' } },
      { id: 8, callFrame: { url: 'file:///repo/node_modules/pg/lib/connection.js', functionName: 'send' }, children: [9] },
      { id: 9, callFrame: { url: 'node:net', functionName: 'Socket._writeGeneric' }, children: [10] },
      { id: 10, callFrame: { url: '', functionName: 'writeBuffer' } },
    ],
    // Each sample stands for the next delta: 1 ms each (1000 µs).
    samples: [2, 3, 4, 4, 5, 6, 6, 6, 7, 2, 9, 10, 10],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 10_000,
  };
  const s = summariseProfile(profile, ROOT);
  t.is(s.idleMs, 3);
  t.is(s.busyMs, 10);
  const self = Object.fromEntries(s.shares.map((x) => [x.where, x.ms]));
  // The native frame (no URL) counts for its nearest scripted caller: node: crypto.
  // A native socket write is the system call: a line of its own, in both views.
  t.deepEqual(self, { 'shared/identity': 2, 'node: crypto': 3, 'node: net + streams': 2, 'garbage collector': 1, 'socket write syscalls': 2 });
  const charged = Object.fromEntries(s.attributed.map((x) => [x.where, x.ms]));
  t.deepEqual(charged, { 'shared/identity': 5, 'node: net + streams': 1, 'garbage collector': 1, pg: 1, 'socket write syscalls': 2 });
  t.true(Math.abs(s.shares.reduce((a, x) => a + x.percent, 0) - 100) < 0.5, 'the shares add up to the busy time');
});

test('/proc readers: CPU time and write syscalls of this process grow with work done', (t) => {
  const cpu0 = processCpuMs(process.pid);
  const w0 = writeSyscalls(process.pid);
  t.true(Number.isFinite(cpu0) && Number.isFinite(w0));
  // Busy until /proc shows 50 ms more (or 10 s pass: on a loaded machine the loop may wait for a core).
  const until = performance.now() + 10_000;
  let x = 0;
  while (processCpuMs(process.pid) - cpu0 < 50 && performance.now() < until) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + 1);
  const fd = openSync('/dev/null', 'w');
  for (let i = 0; i < 25; i++) writeSync(fd, 'x');
  closeSync(fd);
  t.true(processCpuMs(process.pid) - cpu0 >= 50, `a busy loop shows as CPU time (${x > 0})`);
  t.true(writeSyscalls(process.pid) - w0 >= 25);
  t.true(Number.isNaN(processCpuMs(2 ** 22 + 12345)), 'a process that does not exist reads as NaN, not 0');
});
