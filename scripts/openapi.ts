// `npm run openapi`: writes docs/openapi.json from the zod schemas (shared/api/openapi.ts).
// test/api/openapi.test.ts fails when the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from '../shared/api/openapi-text.ts';

const out = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));
writeFileSync(out, openApiText());
console.log(`wrote ${out}`);
