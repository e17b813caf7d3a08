// Attack review (second round) of the statement digest's input (shared/approvals/digest.ts): two
// different (approval id, session, connection, SQL, params, requester) must never share a digest
// — no separator or concatenation ambiguity, no JSON key-order dependence, no type confusion among
// params, no Unicode folding of the SQL. Held: it is RFC 8785 canonical JSON of a fixed object.
import test from 'ava';
import { approvalDigest, type BoundStatement } from '../../shared/approvals/digest.ts';

const KEY = new Uint8Array(32).fill(7);
const base: BoundStatement = {
  approvalId: 'ap-1',
  sessionId: 's-1',
  connection: 'main',
  sql: 'DELETE FROM t WHERE id = $1',
  params: [1],
  requester: { issuer: 'https://issuer.example', subject: 'bot' },
};
const d = (s: Partial<BoundStatement>) => approvalDigest(KEY, { ...base, ...s });

test('every field is bound, and values that read alike are not confused', (t) => {
  const variants: Partial<BoundStatement>[] = [
    {},
    // Field boundaries moved: concatenation would give the same bytes.
    { approvalId: 'ap-1s', sessionId: '-1' },
    { approvalId: 'ap-', sessionId: '1s-1' },
    { connection: 'mai', sql: 'nDELETE FROM t WHERE id = $1' },
    { requester: { issuer: 'https://issuer.example/bot', subject: '' } },
    { requester: { issuer: 'https://issuer.exampl', subject: 'ebot' } },
    // Param types and shapes.
    { params: ['1'] },
    { params: [1.5] },
    { params: [true] },
    { params: ['true'] },
    { params: [null] },
    { params: ['null'] },
    { params: [] },
    { params: [1, null] },
    { params: ['1,2'] },
    { params: [1, 2] },
    // The SQL as bytes: NFC vs NFD, a trailing space, case.
    { sql: 'DELETE FROM t WHERE name = \'é\'' },
    { sql: 'DELETE FROM t WHERE name = \'e\u0301\'' },
    { sql: 'DELETE FROM t WHERE id = $1 ' },
    { sql: 'delete from t where id = $1' },
    { connection: 'Main' },
    { requester: { issuer: 'https://issuer.example', subject: 'Bot' } },
    { approvalId: 'ap-2' },
    { sessionId: 's-2' },
  ];
  const digests = variants.map(d);
  t.is(new Set(digests).size, variants.length, 'all distinct');
  for (const x of digests) t.regex(x, /^[0-9a-f]{64}$/);
});

test('the same statement built in another key order, or with the email, is the same digest; another key is another digest', (t) => {
  const reordered = { requester: { subject: 'bot', issuer: 'https://issuer.example', email: 'bot@x.example' }, params: [1], sql: base.sql, connection: 'main', sessionId: 's-1', approvalId: 'ap-1' } as BoundStatement;
  t.is(approvalDigest(KEY, reordered), d({}));
  t.not(approvalDigest(new Uint8Array(32).fill(8), base), d({}));
  // -0 and 0 are one JSON number (and node-postgres sends both as "0"): one statement.
  t.is(d({ params: [-0] }), d({ params: [0] }));
});

test('missing ids and short keys are refused, not hashed as empty', (t) => {
  t.throws(() => d({ approvalId: '' }), { instanceOf: TypeError });
  t.throws(() => d({ sessionId: '' }), { instanceOf: TypeError });
  t.throws(() => approvalDigest(new Uint8Array(8), base), { instanceOf: TypeError });
});
