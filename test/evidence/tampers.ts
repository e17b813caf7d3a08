// Exports tampered with as an attacker would (edited, deleted, duplicated, reordered, re-encoded
// lines, forged leaves, re-hashed events that do not fit their schema, a swapped desk key): the
// cases verify must answer the same way however it reads the files (worker threads or not, clean
// pass or full pass).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashEvent } from '../../shared/audit/chain.ts';

export function editLines(path: string, edit: (lines: string[]) => string[], sep = '\n'): void {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  writeFileSync(path, edit(lines).join(sep) + sep);
}

/**
 * The first event of `type` rewritten by `edit` and hashed again (its own hash holds, so only the
 * schema and type checks can tell): the workers' SCHEMA_FITS bit must not vouch for it.
 */
export function rehashFirst(d: string, type: string, edit: (e: Record<string, any>) => void): void {
  editLines(join(d, 'events.jsonl'), (l) => {
    let done = false;
    return l.map((x) => {
      const e = JSON.parse(x);
      if (done || e.type !== type) return x;
      done = true;
      edit(e);
      const { hash: _hash, index, ...rest } = e;
      void index;
      return JSON.stringify({ ...e, hash: hashEvent(rest) });
    });
  });
}

export const EDITS: Record<string, (dir: string) => void> = {
  clean: () => {},
  'an event edited': (d) => editLines(join(d, 'events.jsonl'), (l) => l.map((x, i) => (i === 3 ? x.replace('"seq":', '"extra":1,"seq":') : x))),
  'an event deleted': (d) => editLines(join(d, 'events.jsonl'), (l) => l.filter((_, i) => i !== 5)),
  'an event duplicated': (d) => editLines(join(d, 'events.jsonl'), (l) => [...l.slice(0, 7), l[6]!, ...l.slice(7)]),
  'two events swapped': (d) => editLines(join(d, 'events.jsonl'), (l) => [l[1]!, l[0]!, ...l.slice(2)]),
  'a line that is not an event': (d) => editLines(join(d, 'events.jsonl'), (l) => [...l.slice(0, 2), '{"not":"an event"}', 'garbage', ...l.slice(2)]),
  'CRLF line ends': (d) => editLines(join(d, 'events.jsonl'), (l) => l, '\r\n'),
  'a lone CR inside the file': (d) => editLines(join(d, 'events.jsonl'), (l) => [l.slice(0, 3).join('\r'), ...l.slice(3)]),
  'a leaf forged': (d) => editLines(join(d, 'leaves.jsonl'), (l) => l.map((x, i) => (i === 2 ? x.replace(/"hash":"[0-9a-f]{4}/, '"hash":"0000') : x))),
  'a leaf deleted': (d) => editLines(join(d, 'leaves.jsonl'), (l) => l.filter((_, i) => i !== 4)),
  // The workers check each event's schema too: a re-hashed event that does not fit it, or of a type never written.
  'a re-hashed decision that does not fit its schema': (d) => rehashFirst(d, 'decision', (e) => (e.data.approvers = 'group:dba')),
  'a re-hashed request whose principal is a string': (d) => rehashFirst(d, 'request', (e) => (e.data.principal = 'alice')),
  'a re-hashed event of a type Gatehouse never writes': (d) => rehashFirst(d, 'analysis', (e) => (e.type = 'analysis.forged')),
  'a re-hashed decision whose data has an own __proto__ key': (d) => rehashFirst(d, 'decision', (e) => (e.data = JSON.parse('{"__proto__":{"action":"allow"},"approvers":"x"}'))),
  // The workers verify vote signatures too: with another desk key in the manifest, none holds.
  'the desk key swapped in the manifest': (d) => {
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    m.votes.publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
  },
};

