// `--store`: which forms name a session store, and how a wrong one is refused — by the real CLI
// too, since what an auditor sees is its message and exit code, not a TypeError.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { describeStore } from '../../shared/cli/evidence.ts';
import { DEFAULT_AUDIT_DATABASE, parseStoreOption } from '../../shared/cli/store-option.ts';
import { sessionStoreFromEnv } from '../../shared/config.ts';
import { runCli, type CliResult } from '../evidence/helpers.ts';

test('--store firestore://PROJECT[/DATABASE]: the database defaults to the deployed one', (t) => {
  t.deepEqual(parseStoreOption('firestore://acme-prod/audit-eu'), { kind: 'firestore', projectId: 'acme-prod', databaseId: 'audit-eu' });
  t.deepEqual(parseStoreOption('firestore://acme-prod/(default)'), { kind: 'firestore', projectId: 'acme-prod', databaseId: '(default)' });
  t.deepEqual(parseStoreOption('firestore://acme-prod'), { kind: 'firestore', projectId: 'acme-prod', databaseId: DEFAULT_AUDIT_DATABASE });
  // The gateway, configured by GATEHOUSE_SESSION_STORE=firestore, writes where the CLI reads by default.
  t.like(sessionStoreFromEnv({ GATEHOUSE_SESSION_STORE: 'firestore', GATEHOUSE_FIRESTORE_PROJECT: 'acme-prod' }), { kind: 'firestore', databaseId: DEFAULT_AUDIT_DATABASE });
  t.deepEqual(parseStoreOption('postgres://u:p@db/audit'), { kind: 'postgres', url: 'postgres://u:p@db/audit' });
});

const BAD_FIRESTORE = [
  'firestore://',
  'firestore:///gatehouse-audit',
  'firestore://UPPER/x',
  'firestore://acme-prod/UPPER',
  'firestore://p/../x',
  'firestore://acme-prod/../x',
  'firestore://acme-prod/./gatehouse-audit',
  'firestore://acme-prod/db/extra',
  'firestore://acme-prod/',
  'firestore://acme-prod/abc', // 3 characters: Firestore's minimum is 4
  'firestore://acme-prod/audit-',
  'firestore://acme-prod-/audit',
  'firestore://short/audit',
  `firestore://${'a'.repeat(31)}/audit`,
  `firestore://acme-prod/${'a'.repeat(64)}`,
  'firestore://acme-prod/audit?x=1',
  'firestore://acme%2Dprod/audit',
  'firestore://auditor:s3cret@acme-prod/audit',
  'firestore:acme-prod/audit',
];

test('--store firestore://…: anything but PROJECT[/DATABASE] with GCP ids is a TypeError naming the form', (t) => {
  for (const bad of BAD_FIRESTORE) {
    const e = t.throws(() => parseStoreOption(bad), { instanceOf: TypeError, message: /firestore:\/\/PROJECT\[\/DATABASE\]/ }, bad);
    t.false(e?.message.includes('s3cret'), bad);
  }
  for (const bad of ['mysql://auditor:s3cret@db/x', 'FIRESTORE://acme-prod/audit', 'acme-prod/audit', 'http://acme-prod']) {
    t.throws(() => parseStoreOption(bad), { instanceOf: TypeError, message: /^--store must be a postgres:\/\/… URL or firestore:\/\/PROJECT\[\/DATABASE\]/ }, bad);
  }
});

test('describeStore names the Firestore database and project, and a PostgreSQL store without its password', (t) => {
  t.is(describeStore({ stateDir: '.gatehouse', store: 'firestore://acme-prod/audit-eu', throughServer: false }), 'Firestore database audit-eu in project acme-prod');
  t.is(describeStore({ stateDir: '.gatehouse', store: 'firestore://acme-prod', throughServer: false }), 'Firestore database gatehouse-audit in project acme-prod');
  const pg = describeStore({ stateDir: '.gatehouse', store: 'postgres://auditor:s3cret@db.internal:5432/audit?sslmode=require', throughServer: false });
  t.is(pg, 'PostgreSQL session store postgres://db.internal:5432/audit');
});

const CLI_CASES: [string, RegExp][] = [
  ['firestore://', /^error: --store must be firestore:\/\/PROJECT\[\/DATABASE\]: PROJECT a GCP project id/],
  ['firestore://UPPER/x', /^error: --store must be firestore:\/\/PROJECT\[\/DATABASE\]/],
  ['firestore://p/../x', /^error: --store must be firestore:\/\/PROJECT\[\/DATABASE\]/],
  ['firestore://p/db/extra', /^error: --store must be firestore:\/\/PROJECT\[\/DATABASE\]/],
  ['firestore://auditor:s3cret@acme-prod/audit', /^error: --store must be firestore:\/\/PROJECT\[\/DATABASE\]/],
  ['mysql://auditor:s3cret@db.internal/audit', /^error: --store must be a postgres:\/\/… URL or firestore:\/\/PROJECT\[\/DATABASE\]/],
];

for (const [store, message] of CLI_CASES) {
  test(`the CLI refuses --store ${store.replace('s3cret', '…')} with the expected form, no stack trace, no secret`, async (t) => {
    refusedCleanly(t, await runCli(['sessions', 'list', '--store', store, '--json']), message);
  });
}

test('evidence export refuses a bad --store before writing anything', async (t) => {
  const out = join(tmpdir(), `gatehouse-never-written-${process.pid}`);
  const [store, message] = CLI_CASES.find(([s]) => s.includes('..'))!;
  refusedCleanly(t, await runCli(['evidence', 'export', '--store', store, '--from', '2026-01-01', '--to', '2026-04-01', '--out', out]), message);
  t.false(existsSync(out));
});

function refusedCleanly(t: ExecutionContext, r: CliResult, message: RegExp): void {
  t.not(r.code, 0);
  t.is(r.stdout, '');
  t.regex(r.stderr, message);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.notRegex(r.stderr, /\bat .+:\d+:\d+/, 'no stack trace');
  t.false(r.stderr.includes('s3cret'));
}
