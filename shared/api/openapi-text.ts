// The committed form of the spec (docs/openapi.json): two-space JSON and a final newline, so the
// file and the generator can be compared byte for byte.
import { openApiDocument } from './openapi.ts';

export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
