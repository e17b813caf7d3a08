// Issue 15's heavy run saw +30 MB of buffers stay after large session-log INSERTs, and suspected
// node-postgres's message writer of staying at its largest size. In pg-protocol (pinned in
// package.json) one Writer serves every connection, and flush() replaces its buffer with a fresh
// 256-byte one after each message: nothing stays grown, so no recycling is needed. This guards
// that against an upgrade that would keep the buffer: after an 8 MB Bind, the next message must
// not be written into an 8 MB allocation.
import test from 'ava';
import { serialize } from 'pg-protocol';

test('pg-protocol does not keep a grown write buffer after a large message', (t) => {
  const big = serialize.bind({ values: ['x'.repeat(8 * 1024 * 1024)] });
  t.true(big.length > 8 * 1024 * 1024);
  const small = serialize.query('SELECT 1');
  t.true(small.buffer.byteLength < 64 * 1024, `the next message sits in a ${small.buffer.byteLength}-byte allocation`);
  const afterParse = serialize.parse({ text: 'SELECT $1', types: [] });
  t.true(afterParse.buffer.byteLength < 64 * 1024);
});
