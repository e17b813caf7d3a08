// Every session of an export started inside its range: export selects exactly those
// (RANGE_BOUNDS, and the store's listing copy of the start must be the first event's time), so a
// chain head dated outside it was not put there by export. Without this check a writer who
// regenerates the folder could add a session dated long before the range — before the log's first
// checkpoint, where an event without a log index is believable (verify-log.ts
// unindexedPredatesLog) — to the export of a day the log was already signing.
import type { Manifest } from './manifest.ts';
import type { Problem } from './problems.ts';

/** Named one by one up to this many, then counted: a manifest whose range was edited names every session. */
const LISTED = 20;

export function sessionsOutsideRange(manifest: Manifest): Problem[] {
  const from = Date.parse(manifest.range.from);
  const to = Date.parse(manifest.range.to);
  const problems: Problem[] = [];
  let more = 0;
  for (const h of manifest.chainHeads) {
    const at = Date.parse(h.startedAt);
    // NaN anywhere (an unreadable range or start) is outside: nothing shows the session belongs.
    if (at >= from && at < to) continue;
    if (problems.length >= LISTED) {
      more++;
      continue;
    }
    problems.push({
      kind: 'manifest_mismatch',
      file: 'manifest.json',
      field: 'range',
      sessionId: h.sessionId,
      message: `session ${h.sessionId} started ${h.startedAt}, outside the export's range [${manifest.range.from}, ${manifest.range.to}): export holds only sessions that started in it`,
    });
  }
  if (more > 0) problems.push({ kind: 'manifest_mismatch', file: 'manifest.json', field: 'range', message: `${more} more sessions started outside the export's range` });
  return problems;
}
