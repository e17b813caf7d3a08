// The digests of a result (resultSha256 over what the bot saw, rawHmacSha256 over what the target
// returned) are hashes of JSON.stringify({columns, rows}). Building that text whole copies a
// large answer once more per digest; this feeds the hash the same bytes a row at a time, so the
// copy lives one row long. test/audit/result-json.test.ts holds it equal to the one-string form.
import type { Hash, Hmac } from 'node:crypto';

export function updateWithResultJson<H extends Hash | Hmac>(hash: H, columns: readonly string[], rows: readonly (readonly unknown[])[]): H {
  hash.update(`{"columns":${JSON.stringify(columns)},"rows":[`, 'utf8');
  for (let i = 0; i < rows.length; i++) {
    // As JSON.stringify writes an array's element: a hole or undefined is null.
    hash.update(`${i === 0 ? '' : ','}${JSON.stringify(rows[i]) ?? 'null'}`, 'utf8');
  }
  return hash.update(']}', 'utf8') as H;
}
