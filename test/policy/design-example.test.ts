import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { loadPolicy, parsePolicy, type Policy } from '../../shared/policy/index.ts';

// The example the README and docs/design.md show is this one file, so what they show is what loads.
const exampleUrl = new URL('../../docs/policy.example.yaml', import.meta.url);
const policyUrl = new URL('../../gatehouse.policy.yaml', import.meta.url);
const policyPath = fileURLToPath(policyUrl);

async function designExample(): Promise<string> {
  return readFile(exampleUrl, 'utf8');
}

function content(p: Policy): Omit<Policy, 'sha256' | 'source'> {
  const { sha256: _sha, source: _source, ...rest } = p;
  return rest;
}

test('docs/policy.example.yaml loads as it stands', async (t) => {
  const p = parsePolicy(await designExample(), 'docs/policy.example.yaml');
  t.is(p.version, 1);
  t.deepEqual(
    p.rules.map((r) => [r.name, r.action]),
    [
      ['bots-read', 'allow'],
      ['bots-change-with-approval', 'approve'],
      ['nothing-else', 'deny'],
    ],
  );
  t.like(p.rules[1], { approvers: ['group:dba'], quorum: 1, ttlMs: 30 * 60_000 });
});

test('gatehouse.policy.yaml loads and states exactly the documented example', async (t) => {
  const file = await loadPolicy(policyPath);
  const design = parsePolicy(await designExample(), 'docs/policy.example.yaml');
  t.deepEqual(content(file), content(design));
  t.is(file.sha256, createHash('sha256').update(await readFile(policyUrl)).digest('hex'));
  t.is(file.source, policyPath);
});

test('gatehouse.policy.yaml keeps every line of the documented example, in order, comments included', async (t) => {
  const fileLines = (await readFile(policyUrl, 'utf8')).split('\n');
  let at = 0;
  for (const line of (await designExample()).split('\n').filter((l) => l.trim() !== '')) {
    const found = fileLines.indexOf(line, at);
    t.true(found >= 0, `missing or out of order: ${line}`);
    at = found + 1;
  }
});

test('the embedded default trusts the local dev issuer and serves the demo database', async (t) => {
  const p = await loadPolicy(policyPath);
  t.like(
    p.issuers.find((i) => i.issuer === 'http://127.0.0.1:8080/dev'),
    { audience: 'gatehouse-local', jwksUri: 'http://127.0.0.1:8080/dev/jwks.json', groupsClaim: 'groups' },
  );
  t.deepEqual(p.connections['demo'], { credentials: 'embedded://demo', maxRows: 1000, statementTimeoutMs: 5000, maxResultBytes: 4 * 1024 * 1024, maxCellBytes: 1024 * 1024 });
});
