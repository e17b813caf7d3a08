// `npm ci` (through `prepare`): the empty PGlite cluster every new embedded data directory starts
// from (infra/pglite-template.ts), made now so that the first `gatehouse start` needs no initdb.
// It never fails the install: without the template, the first start is only slower.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTemplate } from '../infra/pglite-template.ts';

const started = performance.now();
try {
  const r = await ensureTemplate(join(tmpdir(), `gatehouse-pglite-template-${process.pid}`));
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(r === 'created' ? `made the embedded databases' initdb template in ${s} s` : `embedded databases' initdb template: ${r}`);
} catch (e) {
  console.error(`no initdb template (${e instanceof Error ? e.message : String(e)}); the first gatehouse start will initialise its databases itself`);
}
