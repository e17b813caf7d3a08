// One PostgreSQL connection: a socket, the streaming reader, and a queue of exchanges. An exchange
// is what the engine expects back for what it wrote (a pipeline, a COMMIT, a reset): every message
// goes to the oldest exchange until its ReadyForQuery, so several can be in flight on one write.
// Asynchronous messages (ParameterStatus, notices, notifications) never reach an exchange.
import type { Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { DatabaseError } from 'pg-protocol';
import { AUTH, AuthError, cleartext, md5, mechanisms, Scram } from './auth.ts';
import { LEXER_SETTINGS, openSocket, sendCancel, startupMessage, type ConnectionConfig } from './connect.ts';
import { commandComplete, databaseError, MSG, parameterStatus, readyForQuery, rowDescription, type CommandTag, type WireField } from './messages.ts';
import { MessageReader, ProtocolError, type MessageSink } from './reader.ts';

export type TransactionState = 'I' | 'T' | 'E';

/** Receives one exchange's messages; `end` comes with its ReadyForQuery, `fail` if the connection dies first. */
export interface Exchange extends MessageSink {
  end(state: TransactionState): void;
  fail(error: Error): void;
}

export interface OpenOptions {
  readonly applicationName: string;
  readonly connectTimeoutMs: number;
}

const CANCEL_TIMEOUT_MS = 2_000;

export class WireConnection {
  /** Socket writes so far: the engine's promise is one per statement pipeline. */
  writes = 0;
  /** Closed, or its state cannot be trusted: never reused. */
  dead = false;
  /** Set when the server reported a parameter change the engine cannot work with (client_encoding). */
  tainted = false;
  private readonly queue: Exchange[] = [];
  private readonly reader: MessageReader;
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly config: ConnectionConfig,
    readonly pid: number,
    private readonly secret: number,
    reader: MessageReader,
  ) {
    this.reader = reader;
    reader.setSink(this.dispatcher());
    socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (e) {
        this.close(e instanceof Error ? e : new ProtocolError(String(e)));
      }
    });
    socket.on('error', (e) => this.close(e));
    socket.on('close', () => this.close(Object.assign(new Error('the connection to the database was closed'), { code: 'ECONNRESET' })));
  }

  static async open(config: ConnectionConfig, options: OpenOptions): Promise<WireConnection> {
    const socket = await openSocket(config, options.connectTimeoutMs);
    try {
      return await handshake(socket, config, options);
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  /** @internal used by the handshake. */
  static adopt(socket: Socket, config: ConnectionConfig, pid: number, secret: number, reader: MessageReader): WireConnection {
    return new WireConnection(socket, config, pid, secret, reader);
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** Writes `bytes` in one write and queues the exchanges that answer it, in order. */
  send(bytes: Buffer, exchanges: readonly Exchange[]): void {
    if (this.dead) {
      const e = this.closedError ?? new Error('the connection is closed');
      for (const x of exchanges) x.fail(e);
      return;
    }
    this.queue.push(...exchanges);
    this.writes++;
    this.socket.write(bytes);
  }

  /** Asks the server to cancel what this backend runs. Resolves when the request was delivered (or could not be). */
  async cancel(): Promise<void> {
    try {
      await sendCancel(this.config, this.pid, this.secret, CANCEL_TIMEOUT_MS);
    } catch {
      // Best effort: the caller destroys the connection next, which the server also notices.
    }
  }

  destroy(): void {
    this.close(Object.assign(new Error('the connection was closed by the gateway'), { code: 'ECONNRESET' }));
  }

  private close(error: Error): void {
    if (!this.dead) {
      this.dead = true;
      this.closedError = error;
      this.socket.destroy();
    }
    const pending = this.queue.splice(0);
    for (const x of pending) x.fail(this.closedError ?? error);
  }

  private dispatcher(): MessageSink {
    const head = (): Exchange | undefined => this.queue[0];
    return {
      message: (type, body) => {
        switch (type) {
          case MSG.parameterStatus: {
            // Result text is decoded as UTF-8: a statement that changes the encoding makes every
            // later answer on this connection unreadable, so the connection is not reused.
            const p = parameterStatus(body);
            if (p.name === 'client_encoding' && p.value.toUpperCase() !== 'UTF8') this.tainted = true;
            // The server would no longer read SQL as the gateway's parser does: never again.
            if (Object.hasOwn(LEXER_SETTINGS, p.name) && p.value !== LEXER_SETTINGS[p.name]) this.tainted = true;
            return;
          }
          case MSG.noticeResponse:
          case MSG.notification:
            return;
          case MSG.readyForQuery: {
            const x = this.queue.shift();
            if (x === undefined) throw new ProtocolError('ReadyForQuery with nothing outstanding');
            x.end(readyForQuery(body));
            return;
          }
        }
        const x = head();
        // An error with nothing outstanding is the server ending the session (FATAL).
        if (x === undefined) throw new ProtocolError(type === MSG.errorResponse ? `the server ended the session: ${databaseError(body).code}` : 'unexpected message');
        if (type === MSG.copyIn) {
          // The server would wait for COPY data forever: it ignored the pipeline's Sync in copy-in
          // mode, so after CopyFail it waits for another before its ReadyForQuery.
          this.writes++;
          this.socket.write(Buffer.concat([serialize.copyFail('COPY FROM STDIN is not supported by Gatehouse'), serialize.sync()]));
        }
        x.message(type, body);
      },
      rowStart: (n) => {
        const x = head();
        if (x === undefined) throw new ProtocolError('DataRow with nothing outstanding');
        x.rowStart(n);
      },
      keepCell: (n) => head()!.keepCell(n),
      cell: (v, n) => head()!.cell(v, n),
      rowEnd: () => head()!.rowEnd(),
    };
  }

  // --- small internal queries -------------------------------------------------------------------

  /** One statement through the extended protocol, every row kept: for the engine's own small queries. */
  query(text: string, params: readonly (string | null)[] = []): Promise<QueryResult> {
    const x = new CollectingExchange();
    this.send(
      Buffer.concat([
        serialize.parse({ text }),
        serialize.bind({ values: [...params] }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
      [x],
    );
    return x.result;
  }

  /** Simple-protocol statements, each its own Query message, all in one write; one result each. */
  simple(texts: readonly string[]): Promise<QueryResult>[] {
    const exchanges = texts.map(() => new CollectingExchange());
    this.send(Buffer.concat(texts.map((t) => serialize.query(t))), exchanges);
    return exchanges.map((x) => x.result);
  }
}

export interface QueryResult {
  readonly fields: readonly WireField[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly tag: CommandTag | null;
  readonly state: TransactionState;
}

/** Keeps everything; rejects with the server's error (after its ReadyForQuery) or the connection's. */
export class CollectingExchange implements Exchange {
  readonly result: Promise<QueryResult>;
  private resolve!: (r: QueryResult) => void;
  private reject!: (e: Error) => void;
  private fields: WireField[] = [];
  private rows: (string | null)[][] = [];
  private row: (string | null)[] = [];
  private tag: CommandTag | null = null;
  private error: DatabaseError | Error | undefined;

  constructor() {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.result.catch(() => {}); // a caller that stopped listening must not crash the process
  }
  message(type: number, body: Buffer): void {
    if (type === MSG.rowDescription) this.fields = rowDescription(body);
    else if (type === MSG.commandComplete) this.tag = commandComplete(body);
    else if (type === MSG.errorResponse) this.error ??= databaseError(body);
    else if (type === MSG.copyIn || type === MSG.copyOut || type === MSG.copyBoth) this.error ??= new Error('COPY is not supported');
  }
  rowStart(): void {
    this.row = [];
  }
  keepCell(): boolean {
    return true;
  }
  cell(value: Buffer | null): void {
    this.row.push(value === null ? null : value.toString('utf8'));
  }
  rowEnd(): void {
    this.rows.push(this.row);
  }
  end(state: TransactionState): void {
    if (this.error) this.reject(this.error);
    else this.resolve({ fields: this.fields, rows: this.rows, tag: this.tag, state });
  }
  fail(error: Error): void {
    this.reject(error);
  }
}

// --- start-up ---------------------------------------------------------------------------------

async function handshake(socket: Socket, config: ConnectionConfig, options: OpenOptions): Promise<WireConnection> {
  let pid = 0;
  let secret = 0;
  let scram: Scram | undefined;
  let settle!: { resolve: () => void; reject: (e: Error) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const fail = (e: Error) => settle.reject(e);
  const write = (b: Buffer) => socket.write(b);
  const lexer = new Map<string, string>();

  const reader = new MessageReader({
    message(type, body) {
      switch (type) {
        case MSG.authentication: {
          const kind = body.readInt32BE(0);
          if (kind === AUTH.ok) return;
          if (kind === AUTH.cleartext) return void write(cleartext(config.password));
          if (kind === AUTH.md5) return void write(md5(config.user, config.password, body.subarray(4, 8)));
          if (kind === AUTH.sasl) {
            scram = new Scram(mechanisms(body), config.password);
            return void write(scram.start());
          }
          if (kind === AUTH.saslContinue && scram) {
            scram.continue(body.toString('utf8', 4)).then(write, fail);
            return;
          }
          if (kind === AUTH.saslFinal && scram) return void scram.finish(body.toString('utf8', 4));
          throw new AuthError(`authentication method ${kind} is not supported`);
        }
        case MSG.backendKeyData:
          pid = body.readInt32BE(0);
          secret = body.readInt32BE(4);
          return;
        case MSG.errorResponse:
          throw databaseError(body);
        case MSG.readyForQuery: {
          // A server (or a pooler in front of it) that ignored the start-up setting would run text
          // the analysis read as a string literal: no statement is sent on such a connection.
          const wrong = Object.keys(LEXER_SETTINGS).find((name) => lexer.get(name) !== LEXER_SETTINGS[name]);
          if (wrong !== undefined) throw new ProtocolError(`the server reports ${wrong} = ${lexer.get(wrong) ?? '(not reported)'}; the gateway's SQL parser assumes ${LEXER_SETTINGS[wrong]}`);
          return settle.resolve();
        }
        case MSG.parameterStatus: {
          const p = parameterStatus(body);
          if (Object.hasOwn(LEXER_SETTINGS, p.name)) lexer.set(p.name, p.value);
          return;
        }
        default:
          // Other ParameterStatus, notices, NegotiateProtocolVersion: nothing to do.
          return;
      }
    },
    rowStart() {
      throw new ProtocolError('DataRow during start-up');
    },
    keepCell: () => false,
    cell() {},
    rowEnd() {},
  });
  const onData = (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (e) {
      fail(e as Error);
    }
  };
  const onClose = () => fail(Object.assign(new Error('the server closed the connection during start-up'), { code: 'ECONNRESET' }));
  socket.on('data', onData);
  socket.on('error', fail);
  socket.on('close', onClose);
  const timer = setTimeout(() => fail(Object.assign(new Error('start-up timed out'), { code: 'ETIMEDOUT' })), options.connectTimeoutMs);
  try {
    write(startupMessage(config, options.applicationName));
    await done;
  } finally {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', fail);
    socket.off('close', onClose);
  }
  return WireConnection.adopt(socket, config, pid, secret, reader);
}
