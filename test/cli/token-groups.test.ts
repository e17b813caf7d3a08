// `gatehouse token --groups`: a group the dev issuer's claimGroups does not list is ignored by the
// gateway (attack review of issue 16), so the CLI says so on stderr instead of handing out a token
// that silently lacks it. stdout is still only the token, minted as asked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';

function token(groups: string) {
  const state = mkdtempSync(join(tmpdir(), 'gatehouse-token-'));
  try {
    return spawnSync(process.execPath, [resolve('bin/gatehouse.js'), 'token', '--sub', 'alice@acme.com', '--groups', groups, '--policy', 'gatehouse.policy.yaml', '--state-dir', join(state, 's')], { encoding: 'utf8', timeout: 60_000 });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.trim().split('.')[1]!, 'base64url').toString('utf8'));

test('a group outside the dev issuer\'s claimGroups: warned on stderr, the token still printed alone', (t) => {
  const r = token('dba,admins');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /warning: the gateway will ignore group\(s\) admins: the dev issuer's claimGroups in gatehouse\.policy\.yaml lists only review-bots, dba, auditors/);
  t.deepEqual(claimsOf(r.stdout).groups, ['dba', 'admins']);
});

test('groups the dev issuer may grant: no warning', (t) => {
  const r = token('dba,auditors');
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr, '');
  t.deepEqual(claimsOf(r.stdout).groups, ['dba', 'auditors']);
});
