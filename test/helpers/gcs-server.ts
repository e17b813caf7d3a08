// Cloud Storage has no official emulator. This serves the part of the JSON API that
// @google-cloud/storage uses for checkpoints, over real HTTP, so the library's own requests and
// response parsing are exercised: multipart upload with ifGenerationMatch (412 when the object
// exists: create-only), object metadata, download (alt=media, with x-goog-hash so the library
// validates CRC32C and MD5), and list with prefix and pages. Point the library at it with
// apiEndpoint (or STORAGE_EMULATOR_HOST). Buckets exist once named in `buckets`; `deny` answers
// 403 to everything (an auditor without access), as GCS does.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CRC32C } from '@google-cloud/storage';

export interface StoredObject {
  readonly name: string;
  body: Buffer;
  readonly generation: number;
  readonly contentType: string;
}

export interface GcsServer {
  /** `http://127.0.0.1:PORT` — apiEndpoint / STORAGE_EMULATOR_HOST. */
  readonly endpoint: string;
  readonly clientOptions: Record<string, unknown>;
  /** bucket → name → object. Add a bucket with `buckets.set(name, new Map())`. */
  readonly buckets: Map<string, Map<string, StoredObject>>;
  /** Every request, `METHOD path`, in order. */
  readonly calls: string[];
  deny: boolean;
  close(): Promise<void>;
}

const PAGE = 3; // small pages, so listing really follows nextPageToken

export async function startGcsServer(): Promise<GcsServer> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const calls: string[] = [];
  const state = { deny: false, generation: 1_700_000_000_000_000 };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(text);
  };
  const error = (res: ServerResponse, code: number, message: string) => send(res, code, { error: { code, message, errors: [{ message, reason: 'x' }] } });
  const meta = (bucket: string, o: StoredObject) => ({
    kind: 'storage#object',
    id: `${bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.body.length),
    md5Hash: createHash('md5').update(o.body).digest('base64'),
    crc32c: crc32cB64(o.body),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://gcs');
    calls.push(`${req.method} ${url.pathname.replace(/^\/storage\/v1(?=\/b\/)/, '')}`);
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });
    if (state.deny) return error(res, 403, 'caller does not have storage.objects.list access to the Google Cloud Storage bucket.');
    // The library's base URL is apiEndpoint + /storage/v1, but STORAGE_EMULATOR_HOST as given.
    const path = url.pathname.replace(/^\/storage\/v1(?=\/b\/)/, '');
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
    const list = /^\/b\/([^/]+)\/o$/.exec(path);
    const object = /^\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    const bucketOf = (name: string) => buckets.get(decodeURIComponent(name));

    if (upload && req.method === 'POST') {
      const bucket = bucketOf(upload[1]!);
      if (!bucket) return error(res, 404, 'The specified bucket does not exist.');
      const parts = parseMultipart(req.headers['content-type'] ?? '', body, url.searchParams.get('uploadType'));
      if (!parts) return error(res, 400, 'only uploadType=multipart (or media) is served here');
      const name = url.searchParams.get('name') ?? (parts.metadata.name as string | undefined);
      if (!name) return error(res, 400, 'no object name');
      const ifGen = url.searchParams.get('ifGenerationMatch');
      const existing = bucket.get(name);
      if (ifGen !== null && (ifGen === '0' ? existing !== undefined : String(existing?.generation) !== ifGen)) {
        return error(res, 412, 'At least one of the pre-conditions you specified did not hold.');
      }
      const o: StoredObject = { name, body: parts.content, generation: ++state.generation, contentType: (parts.metadata.contentType as string) ?? 'application/octet-stream' };
      bucket.set(name, o);
      return send(res, 200, meta(decodeURIComponent(upload[1]!), o));
    }
    if (list && req.method === 'GET') {
      const bucket = bucketOf(list[1]!);
      if (!bucket) return error(res, 404, 'The specified bucket does not exist.');
      const prefix = url.searchParams.get('prefix') ?? '';
      const names = [...bucket.keys()].filter((n) => n.startsWith(prefix)).sort();
      const start = Number(url.searchParams.get('pageToken') ?? '0');
      const page = names.slice(start, start + PAGE);
      const next = start + PAGE < names.length ? String(start + PAGE) : undefined;
      return send(res, 200, { kind: 'storage#objects', items: page.map((n) => meta(decodeURIComponent(list[1]!), bucket.get(n)!)), ...(next ? { nextPageToken: next } : {}) });
    }
    if (object && req.method === 'GET') {
      const bucket = bucketOf(object[1]!);
      if (!bucket) return error(res, 404, 'The specified bucket does not exist.');
      const o = bucket.get(decodeURIComponent(object[2]!));
      if (!o) return error(res, 404, 'No such object.');
      if (url.searchParams.get('alt') !== 'media') return send(res, 200, meta(decodeURIComponent(object[1]!), o));
      res.writeHead(200, {
        'content-type': o.contentType,
        'content-length': String(o.body.length),
        'x-goog-hash': `crc32c=${crc32cB64(o.body)},md5=${createHash('md5').update(o.body).digest('base64')}`,
        'x-goog-generation': String(o.generation),
        'x-goog-stored-content-encoding': 'identity',
      });
      return res.end(o.body);
    }
    return error(res, 404, `not served here: ${req.method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, e instanceof Error ? e.message : String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    clientOptions: { apiEndpoint: endpoint, projectId: 'test-project', useAuthWithCustomEndpoint: false },
    buckets,
    calls,
    get deny() {
      return state.deny;
    },
    set deny(v) {
      state.deny = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function crc32cB64(bytes: Buffer): string {
  const c = new CRC32C();
  c.update(bytes);
  return c.toString();
}

/** multipart/related: a JSON metadata part, then the content part. */
function parseMultipart(contentType: string, body: Buffer, uploadType: string | null): { metadata: Record<string, unknown>; content: Buffer } | undefined {
  if (uploadType === 'media') return { metadata: {}, content: body };
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (uploadType !== 'multipart' || !boundary) return undefined;
  const text = body.toString('latin1');
  const parts = text.split(`--${boundary}`).slice(1, -1);
  if (parts.length < 2) return undefined;
  const split = (p: string) => {
    const at = p.indexOf('\r\n\r\n');
    return p.slice(at + 4).replace(/\r\n$/, '');
  };
  return { metadata: JSON.parse(split(parts[0]!)) as Record<string, unknown>, content: Buffer.from(split(parts[1]!), 'latin1') };
}
