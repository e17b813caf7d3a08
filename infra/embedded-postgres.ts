// A PGlite data directory served over the Postgres wire, so everything else talks `pg` exactly as
// it would to a real server (docs/design.md#embedded-defaults). PGlite has no authentication and
// one shared session behind every connection. Over TCP anyone on the machine could connect (and
// write the session log with `psql -h 127.0.0.1`), so the stores `gatehouse start` runs are served
// on a Unix socket instead (`socketDir`): a directory of mode 0700 in the state dir, which only
// its owner can enter — the file system is the password (issue 14). TCP on loopback remains for
// tests and callers that pass no socketDir.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { lockPidFile } from '../shared/pid-lock.ts';
import { openPGlite } from './pglite-template.ts';

export interface EmbeddedPostgresOptions {
  /** Created when missing (from the initdb template when there is one); reused as it is otherwise. */
  readonly dataDir: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** A loopback address; anything else is refused, since PGlite lets anyone in. */
  readonly host?: string;
  /** pglite-socket turns excess connections away with a non-protocol message: size pools below this. */
  readonly maxConnections?: number;
  /**
   * Serve on a Unix socket in this directory (created 0700, and refused if anyone else may enter
   * it) instead of TCP; `host` and `port` are then unused. The URL names it: `?host=<dir>`.
   */
  readonly socketDir?: string;
}

export interface EmbeddedPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { dataDir, port = 0, host = '127.0.0.1', maxConnections = 64 } = options;
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError('startEmbeddedPostgres: dataDir is required');
  if (!isLoopback(host)) throw new TypeError(`startEmbeddedPostgres: host must be a loopback address, not ${host}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('startEmbeddedPostgres: port must be 0..65535');
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TypeError('startEmbeddedPostgres: maxConnections must be a positive integer');
  }

  mkdirSync(dirname(dataDir), { recursive: true });
  const unlock = lockPidFile(dataDir, `PGlite data directory ${dataDir}`);
  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  let socket: { dir: string; path: string } | undefined;
  try {
    if (options.socketDir !== undefined) socket = privateSocket(options.socketDir);
    db = await openPGlite(dataDir); // a new one from the initdb template (pglite-template.ts)
    server = new PGLiteSocketServer({ db: exclusiveExtendedQueries(db), ...(socket ? { path: socket.path } : { port, host }), maxConnections });
    await server.start();
    if (socket) chmodSync(socket.path, 0o600);
  } catch (e) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    unlock();
    throw e;
  }

  const conn = server.getServerConn();
  const actualPort = conn.slice(conn.lastIndexOf(':') + 1);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const running = { db, server };
  let stopped: Promise<void> | undefined;
  return {
    // node-postgres (and psql) connect to `<host>/.s.PGSQL.5432` when host is a directory.
    url: socket ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socket.dir)}` : `postgres://postgres@${urlHost}:${actualPort}/postgres`,
    stop() {
      stopped ??= (async () => {
        try {
          await running.server.stop();
          // stop() detaches each connection without waiting for it, and a detach may still roll
          // back that connection's open transaction: let those run before the database closes.
          await nextTurn();
          await running.db.close();
        } finally {
          if (socket) rmSync(socket.dir === options.socketDir ? socket.path : socket.dir, { recursive: true, force: true });
          unlock();
        }
      })();
      return stopped;
    },
  };
}

// pglite-socket 0.2.17 queues each wire message on its own and keeps one connection exclusive
// only inside a transaction. PGlite is a single session, so an extended-protocol query (Parse,
// Bind, Execute, Sync: how node-postgres sends every query with parameters) could be cut in two by
// another connection's. Measured with 200 mixed queries over 10 connections: `portal "" does not
// exist`, and error replies landing on idle clients. Reporting "in a transaction" from a
// connection's first extended message until its Sync makes the queue keep that connection
// exclusive for the whole exchange, as a real server's separate sessions would.
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H']);
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

/** Exported for other servers of a PGlite (the test harness fallback) that need the same fix. */
export function exclusiveExtendedQueries(db: PGlite): PGlite {
  let midExchange = false;
  const execProtocolRawStream: PGlite['execProtocolRawStream'] = async (message, opts) => {
    const type = String.fromCharCode(message[0] ?? 0);
    try {
      await db.execProtocolRawStream(message, opts);
    } finally {
      if (EXTENDED.has(type)) midExchange = true;
      else if (type === 'S' || type === 'Q') midExchange = false;
    }
  };
  // The socket server calls exec() only to roll back after a connection left mid-transaction.
  // If it left mid-exchange too, a Sync first ends that exchange: after an error the backend
  // skips everything up to the next Sync, which would otherwise be the next client's.
  const exec: PGlite['exec'] = async (query, options) => {
    if (midExchange) {
      midExchange = false;
      await db.execProtocolRawStream(SYNC, { onRawData: () => {} });
    }
    return db.exec(query, options);
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'isInTransaction') return () => midExchange || target.isInTransaction();
      if (prop === 'execProtocolRawStream') return execProtocolRawStream;
      if (prop === 'exec') return exec;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// sun_path holds 108 bytes on Linux (104 on macOS): a deep state dir cannot hold the socket.
// Bytes, not characters: Node 20's libuv cuts a longer path at 107 bytes without an error, and a
// state dir with non-ASCII names was short in UTF-16 units — the socket was bound at the cut path,
// in the state dir's parent (attack review of issue 14).
const MAX_SOCKET_PATH = 100;
const socketPathFits = (dir: string): boolean => Buffer.byteLength(join(dir, SOCKET_NAME), 'utf8') <= MAX_SOCKET_PATH;
const SOCKET_NAME = '.s.PGSQL.5432';

/** A directory only this user can enter, and the socket's path in it (a stale socket removed). */
function privateSocket(wanted: string): { dir: string; path: string } {
  let dir = wanted;
  if (!socketPathFits(dir)) {
    // Too long for a socket address: a private directory under the temp dir instead, still 0700.
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-sock-'));
    if (!socketPathFits(dir)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`no socket path fits in a socket address (${MAX_SOCKET_PATH} bytes): ${wanted} is too long, and so is the temp dir ${tmpdir()}; use a shorter --state-dir or TMPDIR`);
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const st = statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`socket directory ${dir} belongs to another user`);
  if ((st.mode & 0o077) !== 0) throw new Error(`socket directory ${dir} is open to other users`);
  const path = join(dir, SOCKET_NAME);
  // Left by a server that died without stopping; the data directory's lock (taken before this)
  // says no live server of this data directory is using it.
  rmSync(path, { force: true });
  return { dir, path };
}

function isLoopback(host: string): boolean {
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1';
}

