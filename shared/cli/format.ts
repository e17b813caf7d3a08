// Plain-text output for people; every read command also has --json for machines.

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[], maxWidth = 60): string {
  const cells = rows.map((r) => r.map((v) => clip(cell(v), maxWidth)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return v.replace(/\s+/g, ' ');
  return JSON.stringify(v);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
