// Only shared/postgres/ speaks PostgreSQL (issue 17 item 4): every other step works through the
// ports (TargetDatabase, CatalogReader, RoutineCatalogReader) and knows nothing of the driver.
// Allowed besides: infra/, scripts/, bench/ and test/ (they start, seed and inspect databases),
// and shared/adapters/postgres-store/ — the session log and approval store ON PostgreSQL are an
// adapter at the edge of the SessionLog/ApprovalStore ports, as firestore/ is of the same ports;
// they never touch the target database.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const ALLOWED = [/^shared\/postgres\//, /^shared\/adapters\/postgres-store\//, /^infra\//, /^scripts\//, /^bench\//, /^test\//];
const DRIVER = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](pg|pg-cursor|pg-protocol|pg-connection-string|pg-types|pg-pool)(?:\/[^'"]*)?['"]/g;

function sources(): string[] {
  return execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => /\.(ts|mts|js|mjs|cjs)$/.test(f) && existsSync(join(root, f)));
}

export function driverImports(text: string): string[] {
  return [...text.matchAll(DRIVER)].map((m) => m[1]!);
}

test('no file outside shared/postgres/ (and the edges listed above) imports the PostgreSQL driver', (t) => {
  const files = sources();
  t.true(files.some((f) => f.startsWith('shared/postgres/')), 'the scan sees the package itself');
  const offenders = files
    .filter((f) => !ALLOWED.some((a) => a.test(f)))
    .flatMap((f) => driverImports(readFileSync(join(root, f), 'utf8')).map((d) => `${f} imports ${d}`));
  t.deepEqual(offenders, []);
});

test('shared/postgres/ imports no other step (masking, policy, audit, gateway): it is reached through ports', (t) => {
  const offenders = sources()
    .filter((f) => f.startsWith('shared/postgres/'))
    .flatMap((f) => {
      const text = readFileSync(join(root, f), 'utf8');
      return [...text.matchAll(/from\s+['"]\.\.\/(?:\.\.\/)?(masking|policy|audit|approvals|identity|evidence|gateway)[/.'"]/g)].map((m) => `${f} imports ${m[1]}`);
    });
  t.deepEqual(offenders, []);
});

test('the detector finds every spelling it must (the test above can fail)', (t) => {
  t.deepEqual(driverImports(`import pg from 'pg';`), ['pg']);
  t.deepEqual(driverImports(`import type { FieldDef } from "pg";`), ['pg']);
  t.deepEqual(driverImports(`import Cursor from 'pg-cursor';`), ['pg-cursor']);
  t.deepEqual(driverImports(`const { serialize } = await import('pg-protocol');`), ['pg-protocol']);
  t.deepEqual(driverImports(`const sasl = require('pg/lib/crypto/sasl.js');`), ['pg']);
  t.deepEqual(driverImports(`export { parse } from 'pg-connection-string';`), ['pg-connection-string']);
  t.deepEqual(driverImports(`import x from 'pgvector'; import y from './pg.ts';`), []);
});
