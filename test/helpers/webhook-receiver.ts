// A webhook receiver on a local HTTP server: records each post (Slack-shaped or the generic
// message body), and can be told to fail the next few, as a flaky receiver would.
import { createServer, type Server } from 'node:http';
import { freePort } from '../../infra/free-port.ts';

export interface Receiver {
  readonly url: string;
  readonly posts: { approvalId: string; headers: Record<string, string | string[] | undefined>; body: any }[];
  /** Answer 500 to the next `n` posts about this approval (tests in one file run at once). */
  failNext(approvalId: string, n: number): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const posts: Receiver['posts'] = [];
  const failures = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body);
      const approvalId: string = parsed.approvalId ?? /\(([^)]+)\)$/.exec(parsed.text ?? '')?.[1] ?? '?';
      const left = failures.get(approvalId) ?? 0;
      if (left > 0) {
        failures.set(approvalId, left - 1);
        res.writeHead(500).end('down');
        return;
      }
      posts.push({ approvalId, headers: req.headers, body: parsed });
      res.writeHead(200).end('ok');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    posts,
    failNext: (approvalId, n) => failures.set(approvalId, n),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

