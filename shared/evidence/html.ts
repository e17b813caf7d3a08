// Server-side HTML for the sample pages: a tagged template that escapes every interpolated value
// unless it is markup this module built itself (Raw). Session text never reaches a page unescaped.
import { escapeHtml } from './escape.ts';

export class Raw {
  constructor(readonly html: string) {}
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Raw(out);
}

function render(v: unknown): string {
  if (v instanceof Raw) return v.html;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  return escapeHtml(typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
}

/** A complete page: no scripts at all, and a policy that would refuse any that got in. */
export function page(title: string, body: Raw): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; padding: 0 1rem; color: #1d232a; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.8rem; border-bottom: 1px solid #d8dee4; }
table { border-collapse: collapse; } th, td { text-align: left; vertical-align: top; padding: .2rem .8rem .2rem 0; }
table.grid th, table.grid td { border-bottom: 1px solid #d8dee4; padding: .25rem .5rem; }
pre, code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f5f7f9; padding: .5rem; }
.ok { color: #1a7f37; } .bad { color: #b42318; font-weight: 600; } .muted { color: #5b6672; }
</style>
</head>
<body>
${body}
</body>
</html>
`.html;
}
