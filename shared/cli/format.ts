// Plain-text output for people; every read command also has --json for machines.

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[], maxWidth = 60): string {
  const cells = rows.map((r) => r.map((v) => clip(cell(v), maxWidth)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function cell(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return safe(v.replace(/\s+/g, ' '));
  return safe(JSON.stringify(v));
}

/** SQL and rows are the bot's text: escape what a terminal would act on (ESC sequences, bidi). */
export function safe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}


function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
