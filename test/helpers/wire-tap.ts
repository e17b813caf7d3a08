// A TCP proxy that counts what crosses it, per direction: how many times the client wrote
// (data events client → server) and how many round trips that took (bursts from the client that
// the server answered before the client spoke again). For counting a request's round trips on
// the wire rather than estimating them.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface WireTap {
  readonly port: number;
  /** Events since the last reset, over every connection: 'c' client → server, 's' server → client. */
  readonly log: { dir: 'c' | 's'; bytes: number }[];
  reset(): void;
  /** Round trips in the log: client bursts, each ended by an answer from the server. */
  roundTrips(): number;
  /** Chunks the client sent (≈ writes: loopback delivers a small write in one chunk). */
  clientChunks(): number;
  /** Cuts every connection through the tap (the server sees the client vanish). */
  cut(): void;
  close(): Promise<void>;
}

export async function wireTap(target: { host: string; port: number }): Promise<WireTap> {
  const log: { dir: 'c' | 's'; bytes: number }[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      log.push({ dir: 'c', bytes: d.length });
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      log.push({ dir: 's', bytes: d.length });
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    log,
    reset: () => void log.splice(0),
    roundTrips() {
      let trips = 0;
      for (let i = 0; i < log.length; i++) if (log[i]!.dir === 'c' && log[i + 1]?.dir === 's') trips++;
      return trips;
    },
    clientChunks: () => log.filter((e) => e.dir === 'c').length,
    cut() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
