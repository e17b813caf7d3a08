// `gatehouse analyze "<sql>"`: what the parser makes of a statement, without a server.
import type { Analysis } from '../sql/analysis.ts';
import { analyze, loadParser } from '../sql/index.ts';

export async function analyzeCommand(sql: string, json: boolean): Promise<string> {
  await loadParser();
  const a: Analysis = analyze(sql);
  if (json) return JSON.stringify(a, null, 2);
  return [
    `kind         ${a.kind}`,
    `risk class   ${a.class}`,
    ...a.reasons.map((r, i) => `${i === 0 ? 'reasons     ' : '            '} ${r}`),
    `reads        ${a.tables.read.join(', ') || '–'}`,
    `writes       ${a.tables.written.join(', ') || '–'}`,
    `columns      ${a.columns.join(', ') || '–'}`,
    `functions    ${a.functions.join(', ') || '–'}`,
    `fingerprint  ${a.fingerprint}`,
    // The parse tree alone: what a `read` may call is checked against the connection's catalog by
    // the server (step 2b), which this command does not reach.
    ...(a.class === 'read' ? ['catalog      not checked here: the server confirms a read against the connection\'s catalog (POST /v1/analyze)'] : []),
  ].join('\n');
}
