// Where an export's run of the global log may start and end, held against the signed checkpoints.
// The range proof makes ANY run [start, end) of the signed tree give its root, and the run is the
// exporter's choice, written in the manifest: a folder whose run starts after the leaves of the
// range's first sessions (or ends before those of its last) simply does not show them — no leaf of
// theirs is in the run, so nothing names them missing, and every other check holds. So the run
// must reach back to the last checkpoint signed before the range (less the clock margin: every
// leaf after that tree was appended after it, and so every session that started in the range has
// its leaves there), and forward to the end of the covering checkpoint's tree — the bounds export
// itself uses (log-coverage.ts planCoverage).
import type { Checkpoint } from '../transparency/checkpoint.ts';
import { lastSignedBefore, type LogSection } from './log-coverage.ts';
import type { Problem } from './problems.ts';

export function runBoundsProblems(section: LogSection, range: { readonly from: string }, validCheckpoints: readonly Checkpoint[]): Problem[] {
  const problems: Problem[] = [];
  const before = lastSignedBefore(validCheckpoints, Date.parse(range.from));
  // No valid checkpoint signed before the range: nothing bounds where its sessions' leaves begin.
  const latestStart = before?.treeSize ?? 0;
  if (section.start > latestStart) {
    problems.push({
      kind: 'leaf_missing',
      file: 'manifest.json',
      field: 'log.start',
      message: before
        ? `the run of the log starts at leaf ${section.start}, but leaves ${latestStart}…${section.start - 1} were appended after the checkpoint of ${latestStart} leaves signed ${before.time}, before the range began: sessions of the range may be among them`
        : `the run of the log starts at leaf ${section.start}, but no checkpoint was signed before the range began (${range.from}): leaves 0…${section.start - 1} may hold sessions of the range`,
    });
  }
  if (section.end !== section.treeSize) {
    problems.push({
      kind: 'leaf_missing',
      file: 'manifest.json',
      field: 'log.end',
      message: `the run of the log ends at leaf ${section.end}, but the tree it is proved against has ${section.treeSize}: leaves ${section.end}…${section.treeSize - 1} may hold sessions of the range`,
    });
  }
  return problems;
}
