// The streaming reader alone (shared/postgres/wire/reader.ts): however the bytes are cut into
// chunks, the same messages, rows and cells come out; a skipped cell is never handed over; framing
// that lies (a cell longer than its row, a negative length, an oversized message) is an error,
// never a silent misread.
import test from 'ava';
import { MAX_MESSAGE_BYTES, MAX_NOTICE_BYTES, MessageReader, ProtocolError, type MessageSink } from '../../shared/postgres/wire/reader.ts';

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
function dataRow(cells: (string | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(2)];
  parts[0]!.writeInt16BE(cells.length);
  for (const c of cells) {
    const len = Buffer.alloc(4);
    if (c === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const b = Buffer.from(c);
      len.writeInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return message('D', Buffer.concat(parts));
}

/** Records what the reader says; cells longer than `skipOver` are skipped. */
function recorder(skipOver = Infinity): { sink: MessageSink; events: string[] } {
  const events: string[] = [];
  let skipping = false;
  return {
    events,
    sink: {
      message: (type, body) => events.push(`msg ${String.fromCharCode(type)} ${body.toString('hex')}`),
      rowStart: (n) => events.push(`row ${n}`),
      keepCell: (n) => !(skipping = n > skipOver),
      cell: (v, n) => events.push(v === null ? (n < 0 ? 'null' : `skipped ${n}`) : `cell ${v.toString()}`),
      rowEnd: () => events.push('end'),
    },
  };
}

const stream = Buffer.concat([
  message('1', Buffer.alloc(0)),
  message('2', Buffer.alloc(0)),
  dataRow(['a', null, '', 'xyz'.repeat(50), 'ünïcødé']),
  dataRow([]),
  message('s', Buffer.alloc(0)),
  dataRow(['big'.repeat(1000), 'tail']),
  message('C', Buffer.from('SELECT 3\0')),
  message('Z', Buffer.from('T')),
]);

function feed(chunks: Buffer[], skipOver?: number): string[] {
  const r = recorder(skipOver);
  const reader = new MessageReader(r.sink);
  for (const c of chunks) reader.push(c);
  return r.events;
}

test('every way of cutting the stream into two chunks, and into single bytes, reads the same', (t) => {
  const whole = feed([stream]);
  t.true(whole.includes('cell ünïcødé') && whole.includes('null') && whole.includes('cell ') && whole.includes('msg s '));
  for (let i = 0; i <= stream.length; i++) t.deepEqual(feed([stream.subarray(0, i), stream.subarray(i)]), whole, `cut at ${i}`);
  t.deepEqual(feed([...stream].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
});

test('a skipped cell is counted, never handed over, whatever the chunking', (t) => {
  const whole = feed([stream], 100);
  t.true(whole.includes('skipped 150') && whole.includes('skipped 3000') && whole.includes('cell tail'));
  t.false(whole.some((e) => e.startsWith('cell xyz') || e.startsWith('cell big')));
  t.deepEqual(feed([...stream].map((b) => Buffer.from([b])), 100), whole);
});

test('framing that lies is a ProtocolError', (t) => {
  const lying = dataRow(['abc']);
  lying.writeInt32BE(1000, 5 + 2); // the cell claims more than the row holds
  t.throws(() => feed([lying]), { instanceOf: ProtocolError });
  const negative = message('C', Buffer.from('x'));
  negative.writeInt32BE(2, 1); // length below its own 4 bytes
  t.throws(() => feed([negative]), { instanceOf: ProtocolError });
  const extra = dataRow(['abc']);
  const padded = Buffer.concat([extra, Buffer.from('zz')]);
  padded.writeInt32BE(extra.length - 1 + 2, 1); // the row is longer than its cells
  t.throws(() => feed([padded]), { instanceOf: ProtocolError });
  t.throws(() => feed([message('T', Buffer.alloc(MAX_MESSAGE_BYTES + 1))]), { instanceOf: ProtocolError });
});

test('a huge ErrorResponse is cut, not refused: its first fields (severity, SQLSTATE, message start) survive', (t) => {
  const body = Buffer.concat([Buffer.from('SERROR\0C22P02\0Minvalid input: '), Buffer.alloc(MAX_MESSAGE_BYTES * 2, 0x78), Buffer.from('\0\0')]);
  const events = feed([message('E', body)]);
  t.is(events.length, 1);
  const kept = Buffer.from(events[0]!.slice('msg E '.length), 'hex');
  t.is(kept.length, MAX_NOTICE_BYTES);
  t.true(kept.toString('latin1').startsWith('SERROR\0C22P02\0Minvalid input: xxx'));
});

test('CopyData is skipped whole, however big', (t) => {
  const events = feed([message('d', Buffer.alloc(3 * MAX_MESSAGE_BYTES)), message('c', Buffer.alloc(0))]);
  t.deepEqual(events, ['msg c ']);
});
