// maxResultBytes / maxCellBytes (issue 15): sizes in the policy, refused at start with
// `file:line: field: message` when zero, negative or not a size.
import test from 'ava';
import { GatehouseError } from '../../shared/errors.ts';
import { parsePolicy } from '../../shared/policy/index.ts';
import { BASE, edit } from './fixtures.ts';

const RULE = 'must be a positive size: bytes, or a number with B, KiB, MiB, GiB, KB, MB or GB (e.g. 4MiB)';
const withBudget = (lines: string) => edit(BASE, '    credentials: embedded://demo', `    credentials: embedded://demo\n${lines}`);

test('defaults: 4 MiB per answer, 1 MiB per cell', (t) => {
  const p = parsePolicy(BASE, 'p.yaml');
  t.is(p.connections.demo!.maxResultBytes, 4 * 1024 * 1024);
  t.is(p.connections.demo!.maxCellBytes, 1024 * 1024);
});

test('sizes as bytes or with a unit', (t) => {
  for (const [text, bytes] of [
    ['4MiB', 4 * 1024 ** 2],
    ['512KiB', 512 * 1024],
    ['1GB', 1e9],
    ['2 MB', 2e6],
    ['1.5KiB', 1536],
    ['65536', 65536],
  ] as const) {
    const p = parsePolicy(withBudget(`    maxResultBytes: ${text}\n    maxCellBytes: 1B`), 'p.yaml');
    t.is(p.connections.demo!.maxResultBytes, bytes, text);
  }
});

for (const bad of ['0', '-1', '-4MiB', '0MiB', 'lots', '4 MiBs', '4mib', '"4MiB; DROP"', '[1]', 'true', '~', '0.5', '2GiB']) {
  test(`maxResultBytes: ${bad} is refused at start, with file, line and field`, (t) => {
    const err = t.throws(() => parsePolicy(withBudget(`    maxResultBytes: ${bad}`), 'gatehouse.policy.yaml'), { instanceOf: GatehouseError });
    t.is(err?.code, 'policy_invalid');
    t.regex(err!.message, /^gatehouse\.policy\.yaml:12: connections\.demo\.maxResultBytes: /);
    if (bad === '2GiB') t.regex(err!.message, /at most 1GiB/);
    else t.true(err!.message.endsWith(RULE), err!.message);
  });
}

test('maxCellBytes: 0 is refused the same way, and it may not exceed maxResultBytes', (t) => {
  const zero = t.throws(() => parsePolicy(withBudget('    maxCellBytes: 0'), 'p.yaml'), { instanceOf: GatehouseError });
  t.is(zero?.message, `p.yaml:12: connections.demo.maxCellBytes: ${RULE}`);
  const over = t.throws(() => parsePolicy(withBudget('    maxResultBytes: 1KiB\n    maxCellBytes: 2KiB'), 'p.yaml'), { instanceOf: GatehouseError });
  t.regex(over!.message, /^p\.yaml:13: connections\.demo\.maxCellBytes: must not exceed maxResultBytes \(1024 bytes\)$/);
});
