import test from 'ava';
import { cell, table } from '../../shared/cli/format.ts';

test('sessions list/show cells escape terminal control sequences from bot-supplied SQL', (t) => {
  const hostile = "SELECT 1 -- \u001b[2J\u001b[1;1Hall clear\u202e";
  const out = cell(hostile);
  t.false(out.includes('\u001b'), 'no raw ESC reaches the terminal');
  t.false(out.includes('\u202e'), 'no bidi override');
  t.true(out.includes('\\u001b[2J'));
  t.false(table(['sql'], [[hostile]]).includes('\u001b'));
  t.is(cell('SELECT  name\nFROM t'), 'SELECT name FROM t', 'ordinary text only has its whitespace folded');
});
