// Text that came from a session (SQL, result rows, model names) is attacker-controlled: a bot can
// send `</script><script>…` as SQL and get it stored verbatim. These are the only two ways it
// enters HTML that Gatehouse writes.

/** For element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON safe inside `<script type="application/json">`: no `<` at all (so no `</script>` and no
 * `<!--`), and no `>`, `&`, U+2028 or U+2029, all as JSON escapes that JSON.parse reads back.
 */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
