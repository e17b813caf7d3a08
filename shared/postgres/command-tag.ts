// PostgreSQL names the command only in CommandComplete, which a suspended (truncated) portal never
// sends. For that case alone the command is read off the statement's first keyword: it is a label
// for the answer and the log, never a security decision (the parser upstream makes those).

const SELECT_LIKE = new Set(['SELECT', 'WITH', 'TABLE', 'VALUES']);

export function commandOfSuspended(sql: string): string {
  const keyword = /^[A-Za-z]+/.exec(skipNoise(sql))?.[0]?.toUpperCase();
  if (!keyword || SELECT_LIKE.has(keyword)) return 'SELECT';
  return keyword;
}

/** Leading whitespace, comments (block comments nest in PostgreSQL) and opening parentheses. */
function skipNoise(sql: string): string {
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '(' || /\s/.test(c)) {
      i += 1;
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) { depth += 1; i += 2; }
        else if (sql.startsWith('*/', i)) { depth -= 1; i += 2; }
        else i += 1;
      } while (depth > 0 && i < sql.length);
    } else {
      break;
    }
  }
  return sql.slice(i);
}
