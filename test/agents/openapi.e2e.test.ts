// OpenAPI 3.1 (docs/openapi.json): the committed file is exactly what the zod schemas generate,
// the server serves the same document, and real answers from a running server — every route,
// success and refusal — validate against it with a JSON Schema 2020-12 validator (ajv).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { TestGateway } from '../helpers/gateway.ts';
import { openApiDocument } from '../../shared/api/openapi.ts';
import { openApiText } from '../../shared/api/openapi-text.ts';
import { BOT, DBA, MODEL, startAgentGateway } from './fixture.ts';

const COMMITTED = new URL('../../docs/openapi.json', import.meta.url);

test('docs/openapi.json is exactly what the schemas generate (run `npm run openapi` after changing them)', (t) => {
  t.is(readFileSync(COMMITTED, 'utf8'), openApiText());
});

test('the document is OpenAPI 3.1 and every schema in it compiles under draft 2020-12', (t) => {
  const doc = openApiDocument() as any;
  t.is(doc.openapi, '3.1.0');
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  for (const name of Object.keys(doc.components.schemas)) t.truthy(ajv.getSchema(`doc#/components/schemas/${name}`), name);
  // Every route documents its answers.
  for (const [path, methods] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) t.true(Object.keys(op.responses).length > 0, `${method} ${path}`);
  }
});

let gw: TestGateway;
test.before(async () => {
  gw = await startAgentGateway();
});
test.after.always(async () => {
  await gw?.close();
});

/** A validator for the documented answer of one route and status. */
function validatorFor(doc: any) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // Refs in the document are `#/components/…`: register it whole so they resolve.
  ajv.addSchema(doc, 'spec');
  return (path: string, method: string, status: number, body: unknown): string[] => {
    const op = doc.paths[path]?.[method];
    if (!op) return [`no ${method} ${path} in the spec`];
    if (!op.responses[status]) return [`status ${status} is not documented for ${method} ${path}`];
    const pointer = `spec#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`;
    const validate = ajv.getSchema(pointer);
    if (!validate) return [`no schema at ${pointer}`];
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

test('live answers from the running server validate against the spec it serves', async (t) => {
  const served = await gw.get('/v1/openapi.json');
  t.is(served.status, 200);
  t.deepEqual(served.body, JSON.parse(readFileSync(COMMITTED, 'utf8')));
  const check = validatorFor(served.body);

  const bot = { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': MODEL };
  const dba = { authorization: `Bearer ${await gw.token(DBA)}` };
  const seen = new Set<string>();
  const expectValid = (path: string, method: string, r: { status: number; body: unknown }, status: number) => {
    t.is(r.status, status, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 300)}`);
    t.deepEqual(check(path, method, r.status, r.body), [], `${method} ${path} ${r.status}`);
    seen.add(`${method} ${path} ${r.status}`);
  };

  // POST /v1/query: every outcome and the main refusals.
  const q = (body: unknown, headers: Record<string, string> = bot) => gw.post('/v1/query', body, headers);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'SELECT id, email FROM customers LIMIT 2' }), 200);
  const held = await q({ connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE id = $2', params: ['v', 1] });
  expectValid('/v1/query', 'post', held, 202);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'DROP TABLE orders' }), 403);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'SELECT 1' }, { ...bot, 'x-agent-model': 'gpt-evil' }), 403);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'SELEC 1' }), 400);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'SELECT 1' }, { authorization: 'Bearer nope', 'x-agent-model': MODEL }), 401);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE id = $2', params: ['v', 1], approvalId: held.body.approval.id }), 409);
  expectValid('/v1/query', 'post', await q({ connection: 'main', sql: "SELECT 'x'::int" }), 422);
  expectValid('/v1/query', 'post', await q('x'.repeat(300 * 1024)), 413);

  expectValid('/v1/analyze', 'post', await gw.post('/v1/analyze', { connection: 'main', sql: 'SELECT email FROM customers' }, bot), 200);
  const sessionId = held.body.sessionId;
  expectValid('/v1/sessions/{id}', 'get', await gw.get(`/v1/sessions/${sessionId}`, bot), 200);
  expectValid('/v1/sessions/{id}', 'get', await gw.get('/v1/sessions/unknown-session', bot), 404);
  expectValid('/v1/connections', 'get', await gw.get('/v1/connections', bot), 200);
  expectValid('/v1/connections/{name}/tables/{table}', 'get', await gw.get('/v1/connections/main/tables/public.customers', bot), 200);
  expectValid('/v1/connections/{name}/tables/{table}', 'get', await gw.get('/v1/connections/main/tables/public.nope', bot), 404);
  expectValid('/v1/connections/{name}/tables/{table}', 'get', await gw.get('/v1/connections/main/tables/public.customers', { authorization: `Bearer ${await gw.token('x@else.com')}`, 'x-agent-model': MODEL }), 403);

  expectValid('/v1/approvals', 'get', await gw.get('/v1/approvals', dba), 200);
  expectValid('/v1/approvals/{id}', 'get', await gw.get(`/v1/approvals/${held.body.approval.id}`, dba), 200);
  expectValid('/v1/approvals/{id}', 'get', await gw.get('/v1/approvals/nope', dba), 404);
  expectValid('/v1/approvals/{id}/approve', 'post', await gw.post(`/v1/approvals/${held.body.approval.id}/approve`, {}, dba), 400);
  expectValid('/v1/approvals/{id}/approve', 'post', await gw.post(`/v1/approvals/${held.body.approval.id}/approve`, { comment: 'mine' }, bot), 403);
  expectValid('/v1/approvals/{id}/approve', 'post', await gw.post(`/v1/approvals/${held.body.approval.id}/approve`, { comment: 'ok' }, dba), 200);
  const other = await q({ connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE id = $2', params: ['w', 2] });
  expectValid('/v1/approvals/{id}/reject', 'post', await gw.post(`/v1/approvals/${other.body.approval.id}/reject`, { comment: 'not today' }, dba), 200);
  // The approved one, redeemed: executed, then a replay refused.
  const redeem = { connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE id = $2', params: ['v', 1], approvalId: held.body.approval.id };
  expectValid('/v1/query', 'post', await q(redeem), 200);
  expectValid('/v1/query', 'post', await q(redeem), 409);
  expectValid('/v1/approvals/{id}/approve', 'post', await gw.post(`/v1/approvals/${held.body.approval.id}/approve`, { comment: 'again' }, dba), 409);
  expectValid('/v1/openapi.json', 'get', served, 200);
  // Every documented route was exercised.
  for (const [path, methods] of Object.entries<any>(served.body.paths)) {
    for (const method of Object.keys(methods)) t.true([...seen].some((s) => s.startsWith(`${method} ${path} `)), `${method} ${path} not exercised`);
  }
});

test('the validator is not vacuous: answers outside the contract fail it', async (t) => {
  const check = validatorFor(openApiDocument());
  t.not(check('/v1/query', 'post', 200, { sessionId: 's', status: 'executed', rows: 'all' }).length, 0);
  t.not(check('/v1/query', 'post', 202, { sessionId: 's', status: 'pending_approval' }).length, 0);
  t.not(check('/v1/query', 'post', 400, { error: { code: 'made_up_code', message: 'x' } }).length, 0);
  t.not(check('/v1/approvals/{id}', 'get', 200, { approval: { id: 1 } }).length, 0);
  t.deepEqual(check('/v1/query', 'post', 418, {}), ['status 418 is not documented for post /v1/query']);
});
