// One structured line per request, in Cloud Logging's shape, with the trace id the caller sent,
// the session, the verified subject, the decision and the fingerprint — and nothing of the SQL
// text, its parameters, the rows, the token or a database error message (which can quote values).
import test from 'ava';
import { BOT, PII, SLOW_BOT, startOpsGateway, type OpsGateway } from './fixture.ts';

let gw: OpsGateway;
test.before(async () => {
  gw = await startOpsGateway();
});
test.after.always(async () => {
  await gw?.close();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/**
 * The log lines written since `mark`, without the verifier's own fetches of the dev issuer's JWKS
 * (the same server answers them, and logs them too, at a time of the key cache's choosing).
 */
function since(mark: number) {
  return gw.lines().slice(mark).filter((l) => !String(l.httpRequest?.requestUrl).startsWith('/dev/'));
}

test.serial('each request writes exactly one line, with severity, message, httpRequest and the trace it came with', async (t) => {
  const mark = gw.lines().length;
  const ok = await gw.query('SELECT id, name FROM customers', { traceparent: `00-${TRACE}-${SPAN}-01` });
  t.is(ok.status, 200, JSON.stringify(ok.body));
  const denied = await gw.query('DELETE FROM customers WHERE id = 1', { 'x-cloud-trace-context': `${TRACE}/12345;o=1` });
  t.is(denied.status, 403);
  const anonymous = await fetch(`${gw.url}/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.is(anonymous.status, 401);
  await (await fetch(`${gw.url}/healthz`)).text();
  await (await fetch(`${gw.url}/nowhere`)).text();

  const lines = since(mark);
  t.is(lines.length, 5, JSON.stringify(lines));
  const [l1, l2, l3, l4, l5] = lines as [any, any, any, any, any];

  t.like(l1, {
    severity: 'INFO',
    httpRequest: { requestMethod: 'POST', requestUrl: '/v1/query', status: 200 },
    'logging.googleapis.com/trace': TRACE,
    'logging.googleapis.com/spanId': SPAN,
    'logging.googleapis.com/trace_sampled': true,
    sessionId: ok.body.sessionId,
    subject: BOT,
    decision: 'allow',
    riskClass: 'read',
  });
  t.regex(l1.fingerprint, /^[0-9a-f]{16}$/);
  t.regex(l1.httpRequest.latency, /^\d+\.\d{3}s$/);
  t.is(typeof l1.latencyMs, 'number');
  t.is(typeof l1.message, 'string');
  t.truthy(Date.parse(l1.time));

  t.like(l2, {
    severity: 'WARNING',
    httpRequest: { status: 403 },
    'logging.googleapis.com/trace': TRACE,
    'logging.googleapis.com/spanId': (12345).toString(16).padStart(16, '0'),
    sessionId: denied.body.sessionId,
    subject: BOT,
    decision: 'deny',
  });
  t.like(l3, { severity: 'WARNING', httpRequest: { status: 401 }, errorCode: 'token_missing' });
  t.is(l3.subject, undefined);
  t.is(l3['logging.googleapis.com/trace'], undefined);
  t.like(l4, { severity: 'INFO', httpRequest: { requestUrl: '/healthz', status: 200 } });
  t.like(l5, { httpRequest: { requestUrl: '/nowhere', status: 404 }, errorCode: 'not_found' });
});

test.serial('a malformed or hostile trace header is no trace at all; nothing of it is logged', async (t) => {
  const mark = gw.lines().length;
  const hostile = [
    `00-${TRACE}-${SPAN}-01\n{"severity":"CRITICAL"}`,
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    `00-${TRACE.toUpperCase()}X-${SPAN}-01`,
    `<script>-${TRACE}`,
  ];
  for (const traceparent of hostile) {
    // fetch refuses a header with a newline; send what it allows
    const headers: Record<string, string> = traceparent.includes('\n') ? { 'x-cloud-trace-context': 'zz/1;o=1' } : { traceparent };
    await gw.query('SELECT 1', headers);
  }
  const lines = since(mark);
  t.is(lines.length, hostile.length);
  for (const l of lines) t.is(l['logging.googleapis.com/trace'], undefined, JSON.stringify(l));
  t.false(gw.logText().includes('<script>'));
});

test.serial('no SQL text, parameter, result value, token or database error message reaches the log', async (t) => {
  const mark = gw.logText().length;
  const token = await gw.token(BOT);
  // PII in the result (masked for the bot, raw in the database), in the SQL text, in parameters,
  // and in an error message PostgreSQL would quote it in.
  const statements: [string, unknown[] | undefined][] = [
    ['SELECT id, name, email, ssn, card_number, phone FROM customers', undefined],
    [`SELECT id FROM customers WHERE email = '${PII.email}' AND ssn = '${PII.ssn}'`, undefined],
    ['SELECT id FROM customers WHERE card_number = $1 OR phone = $2', [PII.card, PII.phone]],
    [`SELECT '${PII.ssn}'::int`, undefined],
    [`SELECT ssn::int FROM customers`, undefined],
    [`DELETE FROM customers WHERE email = '${PII.email}'`, undefined],
    [`SELEC '${PII.email}'`, undefined],
  ];
  const statuses: number[] = [];
  for (const [sql, params] of statements) statuses.push((await gw.query(sql, {}, BOT, params)).status);
  t.deepEqual(statuses, [200, 200, 200, 422, 422, 403, 400]);
  const analyze = await fetch(`${gw.url}/v1/analyze`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model', 'content-type': 'application/json' },
    body: JSON.stringify({ connection: 'main', sql: `SELECT * FROM customers WHERE ssn = '${PII.ssn}'` }),
  });
  t.is(analyze.status, 200);

  const log = gw.logText().slice(mark);
  t.is(log.split('\n').filter((l) => l !== '' && !l.includes('"/dev/')).length, statements.length + 1);
  const forbidden = [...Object.values(PII), PII.ssn.replace(/-/g, ''), PII.card.slice(-4).padStart(8, '*'), token, 'customers', 'SELECT', 'invalid input syntax'];
  for (const s of forbidden) t.false(log.includes(s), `the log contains ${JSON.stringify(s)}`);
  // and what may be there, is
  t.regex(log, /"errorCode":"(sql_error|statement_failed|invalid_sql|syntax_error|[a-z_]+)"/);
});

test.serial('the request in flight is logged once it finishes, with its own latency', async (t) => {
  const mark = gw.lines().length;
  const r = await gw.query('SELECT pg_sleep(0.3)', {}, SLOW_BOT);
  t.is(r.status, 200, JSON.stringify(r.body));
  const [line] = since(mark) as [any];
  t.true(line.latencyMs >= 300, String(line.latencyMs));
  t.like(line, { subject: SLOW_BOT, decision: 'allow', riskClass: 'unknown' });
});

test.serial('a path is caller text: the query string is never logged, and a long path is cut', async (t) => {
  const mark = gw.lines().length;
  await (await fetch(`${gw.url}/healthz?ssn=${PII.ssn}`)).text();
  await (await fetch(`${gw.url}/v1/${'x'.repeat(5000)}`)).text();
  const [withQuery, long] = since(mark) as [any, any];
  t.is(withQuery.httpRequest.requestUrl, '/healthz');
  t.false(JSON.stringify(withQuery).includes(PII.ssn));
  t.true(long.httpRequest.requestUrl.length <= 201, String(long.httpRequest.requestUrl.length));
  t.true(long.message.length < 300);
});
