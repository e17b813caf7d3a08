// Which key the CLI checks approval votes with (shared/cli/desk-key.ts): anything that is not the
// desk's kind of key (EC P-256) is a missing key — callers then fail closed with
// vote_public_key_missing — and nothing here ever throws, whatever sits in the state dir.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { deskKey } from '../../shared/cli/desk-key.ts';

const dir = mkdtempSync(join(tmpdir(), 'desk-key-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: { export(o: object): string | Buffer }, type: 'spki' | 'pkcs8') => k.export({ type, format: 'pem' }).toString();

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

test('a published P-256 key is used as given; its private half in the state dir gives the same public key', (t) => {
  const published = deskKey(file('desk.pem', pem(ec.publicKey, 'spki')), undefined);
  t.deepEqual(published, { pem: pem(ec.publicKey, 'spki') });
  t.deepEqual(deskKey(undefined, file('state-key.pem', pem(ec.privateKey, 'pkcs8'))), published);
});

test('--vote-public-key that is not the desk kind of key is missing, with the reason', (t) => {
  t.deepEqual(deskKey(file('rsa.pem', pem(rsa.publicKey, 'spki')), undefined), { missing: `--vote-public-key ${join(dir, 'rsa.pem')} is not an EC P-256 key` });
  t.deepEqual(deskKey(file('junk.pem', 'not a key'), undefined), { missing: `--vote-public-key ${join(dir, 'junk.pem')} is not a PEM public key` });
  t.deepEqual(deskKey(join(dir, 'absent.pem'), undefined), { missing: `--vote-public-key ${join(dir, 'absent.pem')} cannot be read` });
});

test('a state-dir key that is not a key, is another kind, is readable by others or is a link: missing, never a throw', (t) => {
  for (const [name, text, mode] of [
    ['garbage.pem', 'garbage', 0o600],
    ['public-only.pem', pem(ec.publicKey, 'spki'), 0o600],
    ['rsa-private.pem', pem(rsa.privateKey, 'pkcs8'), 0o600],
    ['open.pem', pem(ec.privateKey, 'pkcs8'), 0o644],
  ] as const) {
    const key = deskKey(undefined, file(name, text, mode));
    t.true('missing' in key, name);
    t.false(JSON.stringify(key).includes('PRIVATE KEY'), `${name}: no key material in the reason`);
  }
  const link = join(dir, 'link.pem');
  symlinkSync(file('target.pem', pem(ec.privateKey, 'pkcs8')), link);
  const linked = deskKey(undefined, link);
  t.true('missing' in linked && /symbolic link/.test(linked.missing));
  t.true('missing' in deskKey(undefined, join(dir, 'none.pem')));
});
