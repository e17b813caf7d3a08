// How the doctor's report reads: the full report for `gatehouse doctor`, and one line per
// connection for `gatehouse start`. Function, role and extension names come from the target's
// catalog, which whoever can run DDL there chooses: control characters are shown escaped, never
// sent to the terminal (JSON output escapes them already).
import type { Check, ConnectionReport, DoctorReport } from './types.ts';

const MARK: Readonly<Record<Check['status'], string>> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', info: 'INFO', error: 'ERROR' };

export function formatReport(report: DoctorReport): string {
  const out: string[] = [];
  for (const c of report.connections) {
    out.push(printable(`connection ${c.connection}${c.role ? ` (role ${c.role})` : ''}: ${c.ok ? 'ok' : 'NOT OK'}`));
    for (const check of c.checks) out.push(printable(`  ${MARK[check.status].padEnd(5)} ${check.id.padEnd(32)} ${check.message}`));
  }
  const bad = report.connections.filter((c) => !c.ok).length;
  out.push(report.ok ? 'all checks passed' : `${bad} of ${report.connections.length} connection(s) failed a check`);
  return out.join('\n');
}

/** `demo: 3 failed (not_superuser, …), 1 warning; run npx gatehouse doctor --connection demo` */
export function summaryLine(c: ConnectionReport): string {
  const failed = c.checks.filter((k) => k.status === 'fail' || k.status === 'error');
  const warned = c.checks.filter((k) => k.status === 'warn');
  const parts: string[] = [];
  if (failed.length > 0) parts.push(`${failed.length} failed (${failed.map((k) => k.id).join(', ')})`);
  if (warned.length > 0) parts.push(`${warned.length} warning(s) (${warned.map((k) => k.id).join(', ')})`);
  if (parts.length === 0) return printable(`${c.connection}: least privilege ok${c.role ? ` (role ${c.role})` : ''}`);
  return printable(`${c.connection}: ${parts.join(', ')}${c.role ? ` (role ${c.role})` : ''}; see npx gatehouse doctor --connection ${c.connection}`);
}

/** C0 and C1 control characters (ESC, CR, BEL, …) as \u escapes. */
function printable(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
