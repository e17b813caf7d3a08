// On GCP the MCP server and the client take the workload's identity from the metadata server,
// through google-auth-library's getIdTokenClient(audience) — the real library. Google's metadata
// server has no emulator, so a loopback stand-in answers its two documented paths (the GCE probe
// and the identity endpoint); GCE_METADATA_HOST points the library at it.
import { createServer } from 'node:http';
import test from 'ava';
import { googleIdToken } from '../../shared/client/tokens.ts';

test('googleIdToken asks the metadata server for an ID token for the audience, per call', async (t) => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    if (req.headers['metadata-flavor'] !== 'Google') {
      res.writeHead(403).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://metadata');
    res.setHeader('metadata-flavor', 'Google');
    if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/identity') {
      asked.push(url.searchParams.get('audience') ?? '');
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const exp = Math.floor(Date.now() / 1000) + 3600;
      res.end(`${b64({ alg: 'RS256' })}.${b64({ aud: url.searchParams.get('audience'), exp })}.c2ln`);
      return;
    }
    // The probe, and anything else the library asks about the instance.
    res.end(url.pathname.endsWith('/project/project-id') ? 'test-project' : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  process.env.GCE_METADATA_HOST = `127.0.0.1:${addr.port}`;
  // npm test sets 'none' so no other suite ever pings for a metadata server; this one wants it.
  process.env.METADATA_SERVER_DETECTION = 'ping-only';
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  try {
    const provider = googleIdToken('https://gatehouse-query-abc.a.run.app');
    const token = await provider();
    t.is(token.split('.').length, 3);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    t.is(payload.aud, 'https://gatehouse-query-abc.a.run.app');
    t.deepEqual(asked.slice(0, 1), ['https://gatehouse-query-abc.a.run.app']);
    t.is(await provider(), token, 'the library caches a token until it nears expiry');
  } finally {
    server.close();
  }
});
