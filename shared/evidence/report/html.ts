// report.html: one self-contained file an auditor opens offline. The data is embedded as JSON in
// `<script type="application/json">` (never evaluated; `<` escaped so `</script>` in SQL cannot
// end the element), the client is inline, and a Content-Security-Policy allows exactly that
// client script (by hash) and that style — nothing loads from anywhere, nothing injected runs.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HashedFile } from '../files.ts';
import { escapeHtml, scriptJson } from '../escape.ts';

// Plain browser JavaScript, concatenated in this order into one inline script.
const CLIENT_PARTS = ['dom.js', 'verify.js', 'views.js', 'main.js'];

function asset(name: string): string {
  return readFileSync(new URL(name, import.meta.url), 'utf8');
}

let cached: { script: string; style: string; csp: string } | undefined;
function assets() {
  if (cached) return cached;
  const script = `(() => {\n${CLIENT_PARTS.map((p) => asset(`./client/${p}`)).join('\n')}\n})();`;
  const style = asset('./style.css');
  const digest = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${digest(script)}`,
    `style-src ${digest(style)}`,
    "img-src 'none'",
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
  cached = { script, style, csp };
  return cached;
}

export interface ReportMeta {
  readonly generatedAt: string;
  readonly source: string;
  readonly range: { readonly from: string; readonly to: string; readonly bounds: string };
  readonly merkleRoot: string;
  readonly merkleDefinition: string;
  readonly [key: string]: unknown;
}

/** Writes the report; `sessions` are entries already escaped by scriptJson, oldest first. */
export async function writeReport(file: Pick<HashedFile, 'write'>, meta: ReportMeta, sessions: readonly string[]): Promise<void> {
  const { script, style, csp } = assets();
  const title = `Gatehouse evidence ${meta.range.from} – ${meta.range.to}`;
  await file.write(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>Gatehouse evidence</h1>
<span class="range">${escapeHtml(`${meta.range.from} → ${meta.range.to} · generated ${meta.generatedAt} · Merkle root ${meta.merkleRoot.slice(0, 16)}…`)}</span>
<nav><a href="#sessions">Sessions</a><a href="#verification">Verification</a><a href="#soc2">SOC 2</a></nav>
</header>
<main id="app"><noscript>This report needs JavaScript to list sessions; the same data is in sessions.jsonl, events.jsonl and population.csv.</noscript></main>
<script type="application/json" id="gh-meta">${scriptJson(meta)}</script>
<script type="application/json" id="gh-sessions">[`,
  );
  // Written entry by entry: the embedded sessions can be tens of megabytes.
  for (let i = 0; i < sessions.length; i++) await file.write(i ? `,${sessions[i]}` : sessions[i]!);
  await file.write(`]</script>\n<script>${script}</script>\n</body>\n</html>\n`);
}
