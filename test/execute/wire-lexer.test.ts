// The gateway's SQL parser (libpg-query) splits text into tokens as PostgreSQL does with
// standard_conforming_strings on. A server that reads `'a\'` as an unfinished string would run text
// the analysis saw as a literal (test/sql/read-attacks-2.e2e.test.ts has the attack on real
// PostgreSQL). Here, against a scripted server: the start-up message asks for `on`, and a server
// that still reports `off` (a pooler that drops start-up parameters) is never used.
import { createServer, type Server, type Socket } from 'node:net';
import test from 'ava';
import { connectionConfig, startupMessage } from '../../shared/postgres/wire/connect.ts';
import { WireConnection } from '../../shared/postgres/wire/connection.ts';

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int32 = (...values: number[]) => Buffer.concat(values.map((v) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; }));
const cstr = (...s: string[]) => Buffer.from(s.map((x) => `${x}\0`).join(''), 'utf8');

/** Answers one start-up: authentication ok, the given settings, key data, ready. */
async function scriptedServer(settings: Record<string, string>): Promise<{ server: Server; port: number; startup: Promise<Buffer> }> {
  let gotStartup!: (b: Buffer) => void;
  const startup = new Promise<Buffer>((r) => (gotStartup = r));
  const server = createServer((socket: Socket) => {
    socket.once('data', (chunk) => {
      gotStartup(chunk);
      socket.write(Buffer.concat([
        message('R', int32(0)),
        ...Object.entries(settings).map(([k, v]) => message('S', cstr(k, v))),
        message('K', int32(4242, 7)),
        message('Z', Buffer.from('I')),
      ]));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, startup };
}

test('the start-up message asks for standard_conforming_strings on', (t) => {
  const text = startupMessage(connectionConfig('postgres://u@127.0.0.1:5432/d'), 'gatehouse').toString('utf8');
  t.true(text.includes('standard_conforming_strings\0on\0'));
});

test('a server that reports standard_conforming_strings off is not used', async (t) => {
  const { server, port, startup } = await scriptedServer({ client_encoding: 'UTF8', standard_conforming_strings: 'off' });
  try {
    const error = await t.throwsAsync(WireConnection.open(connectionConfig(`postgres://u@127.0.0.1:${port}/d`), { applicationName: 'x', connectTimeoutMs: 3000 }));
    t.regex(error!.message, /standard_conforming_strings = off/);
    t.true((await startup).toString('utf8').includes('standard_conforming_strings\0on\0'));
  } finally {
    server.close();
  }
});

test('a server that does not report it at all is not used either', async (t) => {
  const { server, port } = await scriptedServer({ client_encoding: 'UTF8' });
  try {
    await t.throwsAsync(WireConnection.open(connectionConfig(`postgres://u@127.0.0.1:${port}/d`), { applicationName: 'x', connectTimeoutMs: 3000 }), { message: /standard_conforming_strings/ });
  } finally {
    server.close();
  }
});

test('a server that reports it on is used', async (t) => {
  const { server, port } = await scriptedServer({ client_encoding: 'UTF8', standard_conforming_strings: 'on' });
  try {
    const conn = await WireConnection.open(connectionConfig(`postgres://u@127.0.0.1:${port}/d`), { applicationName: 'x', connectTimeoutMs: 3000 });
    t.false(conn.tainted);
    conn.destroy();
  } finally {
    server.close();
  }
});
