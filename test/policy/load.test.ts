import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { GatehouseError } from '../../shared/errors.ts';
import { loadPolicy } from '../../shared/policy/index.ts';
import { BASE, edit } from './fixtures.ts';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a file that does not exist is policy_invalid, saying so', async (t) => {
  const path = join(dir, 'missing.yaml');
  const err = await t.throwsAsync(loadPolicy(path), { instanceOf: GatehouseError });
  t.is(err?.code, 'policy_invalid');
  t.is(err?.message, `${path}: no such file`);
  t.deepEqual(err?.details, { problems: [{ line: null, path: '', message: 'no such file' }] });
});

test('a directory is policy_invalid too', async (t) => {
  await t.throwsAsync(loadPolicy(dir), { instanceOf: GatehouseError, message: /cannot be read/ });
});

test('sha256 is that of the exact file bytes, BOM and CRLF included', async (t) => {
  for (const [name, bytes] of [
    ['plain.yaml', Buffer.from(BASE)],
    ['bom.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(BASE)])],
    ['crlf.yaml', Buffer.from(BASE.replaceAll('\n', '\r\n'))],
  ] as const) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    const p = await loadPolicy(path);
    t.is(p.sha256, createHash('sha256').update(bytes).digest('hex'), name);
    t.is(p.source, path);
    t.is(p.rules.length, 3);
  }
});

test('a file that is not UTF-8 is refused (its hash could not match its text)', async (t) => {
  const path = join(dir, 'latin1.yaml');
  await writeFile(path, Buffer.concat([Buffer.from(BASE), Buffer.from('# caf\xe9\n', 'latin1')]));
  await t.throwsAsync(loadPolicy(path), { instanceOf: GatehouseError, message: `${path}: is not valid UTF-8` });
});

test('problems in a file name the file as given', async (t) => {
  const path = join(dir, 'bad.yaml');
  await writeFile(path, edit(BASE, 'action: allow', 'action: permit'));
  await t.throwsAsync(loadPolicy(path), { message: `${path}:16: rules[0].action: must be one of allow, deny, approve` });
});
