// `gatehouse evidence export|verify|sample`: output and progress around shared/evidence/.
// Progress goes to stderr and only on a terminal, so scripts and --json output stay clean.
import { existsSync, readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { exportEvidence, type ExportSource, type ExportSummary } from '../evidence/export.ts';
import { sampleEvidence, type SampleResult } from '../evidence/sample.ts';
import { verifyEvidence, type VerifyOptions, type VerifyResult } from '../evidence/verify.ts';
import { cloudStorageReader } from './gcs-reader.ts';
import type { Checkpoint } from '../transparency/checkpoint.ts';
import type { SessionLog } from '../ports.ts';
import { deskKey } from './desk-key.ts';
import { safe } from './format.ts';
import { parseStoreOption } from './store-option.ts';

export interface ExportCommandOptions {
  readonly from: Date;
  readonly to: Date;
  readonly out: string;
  readonly json: boolean;
  readonly source: string;
  readonly checkpoints?: readonly Checkpoint[];
  /** The approval desk's public key (PEM) to record in the manifest. */
  readonly votePublicKeyPem?: string;
}

/**
 * The desk key an export records: the file given, else (embedded mode) the public half of the
 * state dir's own vote-signing key, else none (verify then needs --vote-public-key).
 */
export function exportVoteKey(file: string | undefined, stateDirKeyPath: string | undefined): string | undefined {
  if (file !== undefined) return readFileSync(file, 'utf8');
  if (stateDirKeyPath === undefined || !existsSync(stateDirKeyPath)) return undefined;
  const key = deskKey(undefined, stateDirKeyPath);
  return 'pem' in key ? key.pem : undefined;
}

export async function evidenceExportCommand(log: ExportSource, o: ExportCommandOptions): Promise<{ text: string; ok: boolean }> {
  const bar = !o.json && process.stderr.isTTY ? progressBar(o.from, o.to) : undefined;
  let summary: ExportSummary;
  try {
    summary = await exportEvidence(log, {
      from: o.from,
      to: o.to,
      out: o.out,
      source: o.source,
      checkpoints: o.checkpoints,
      votePublicKeyPem: o.votePublicKeyPem,
      onProgress: bar ? (p) => bar.update(Date.parse(p.startedAt) - o.from.getTime(), { sessions: p.sessions, events: p.events }) : undefined,
    });
    bar?.update(o.to.getTime() - o.from.getTime());
  } finally {
    bar?.stop();
  }
  const ok = summary.chainsBroken === 0 && summary.logProblems.length === 0 && summary.voteProblems === 0;
  if (o.json) return { text: JSON.stringify(summary, null, 2), ok };
  return {
    ok,
    text: [
      `exported ${summary.sessions} sessions (${summary.events} events, ${summary.approvalEvents} approval events) started in [${summary.range.from}, ${summary.range.to}) to ${summary.out} in ${(summary.durationMs / 1000).toFixed(1)} s`,
      `  chains       ${summary.chainsBroken === 0 ? 'all verified against the store' : `${summary.chainsBroken} BROKEN in the store: see verification.json`}`,
      ...(summary.voteProblems > 0 ? [`  votes        ${summary.voteProblems} NOT signed by the approval desk's key (unsigned, wrongly signed or replayed): see verification.json`] : []),
      `  merkle root  ${summary.merkleRoot}`,
      summary.log
        ? `  log          leaves [${summary.log.start}, ${summary.log.end}) of the tree of ${summary.log.treeSize}, root ${summary.log.rootHash}${summary.log.checkpointed ? ' (a signed checkpoint)' : ' — NOT yet covered by a signed checkpoint'}`
        : '  log          this store has no global log',
      ...summary.logProblems.map((p) => `  [${p.kind}] ${safe(p.message)}`),
      `  manifest     sha256 ${summary.manifestSha256}`,
      '               keep these two values apart from the folder: they pin down every session in it',
      `  report       ${summary.out}/report.html (${summary.reportSessions} sessions embedded)`,
      `  check it     npx gatehouse evidence verify ${summary.out}`,
    ].join('\n'),
  };
}

function progressBar(from: Date, to: Date): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      format: 'exporting |{bar}| {percentage}% of the time range · {sessions} sessions · {events} events',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  // The total is the time range: the log cannot count a range without reading it, and sessions
  // arrive oldest first, so the position in the range is an honest measure of progress.
  bar.start(Math.max(1, to.getTime() - from.getTime()), 0, { sessions: 0, events: 0 });
  return bar;
}

export async function evidenceVerifyCommand(dir: string, json: boolean, options: VerifyOptions = {}): Promise<{ text: string; ok: boolean }> {
  const verified: VerifyResult = await verifyEvidence(dir, { gcs: cloudStorageReader, ...options });
  // Checkpoints checked with the key kept beside them prove only that the source agrees with
  // itself: whoever can rewrite the source (and the folder) can replace key and checkpoints
  // together. Said, as verify says which key the votes were checked with.
  const r: VerifyResult =
    options.checkpoints !== undefined && options.publicKey === undefined
      ? { ...verified, warnings: [...verified.warnings, `the checkpoints were checked with the public key kept beside them in ${options.checkpoints}: pass --public-key FILE (the published key: \`gatehouse checkpoint public-key\`, or the terraform output checkpoint_public_key) — whoever can rewrite the source can replace both`] }
      : verified;
  if (json) return { text: JSON.stringify(r, null, 2), ok: r.ok };
  const lines = r.ok
    ? [
        `OK: ${r.dir} verifies — ${r.checked.files} files, ${r.checked.sessions} sessions, ${r.checked.events} events (${r.eventsPerSecond} events/s, ${r.pass === 'clean' ? 'clean pass' : 'full pass'})`,
        `  merkle root    ${r.merkleRoot}`,
        ...(r.logRoot ? [`  log root       ${r.logRoot.rootHash} (${r.logRoot.treeSize} leaves)${r.logRoot.checkpoint ? `, signed ${r.logRoot.checkpoint.time} by log ${r.logRoot.checkpoint.logId.slice(0, 16)}…` : ''}`] : []),
        ...(r.checkpointsChecked === undefined
          ? ['  signed log     NOT checked: pass --checkpoints SRC (and --public-key FILE) to tie this export to the signed log']
          : [`  signed log     ${r.checkpointsChecked} checkpoints verified (signatures, consistency)`]),
        ...(r.votes && r.votes.checked > 0
          ? [`  votes          ${r.votes.checked} signed by the approval desk's key ${r.votes.fingerprint?.slice(0, 16)}… (${r.votes.keyFrom === 'manifest' ? 'the key the manifest names: pass --vote-public-key FILE to check it is the published one' : 'the published key given'})`]
          : []),
        `  manifest       sha256 ${r.manifestSha256}`,
        '  compare both with the values recorded when the export was made',
      ]
    : [
        `FAILED: ${r.dir} does not verify — ${r.problemsTotal} problem${r.problemsTotal === 1 ? '' : 's'}${r.problemsTotal > r.problems.length ? ` (first ${r.problems.length} listed)` : ''}`,
        ...r.problems.map((p) => `  [${p.kind}] ${p.file ?? ''}${p.line ? `:${p.line}` : ''}  ${safe(p.message)}`),
      ];
  if (r.outcomes) {
    const o = r.outcomes;
    lines.push(`  outcomes       executed ${o.executed} · failed ${o.failed} · rolled back ${o.rolledBack} · UNKNOWN ${o.unknown}`);
    if (o.unknown > 0) lines.push(`  exception      ${o.unknown} statement${o.unknown === 1 ? '' : 's'} with unknown outcome (see population.csv executed=unknown; run \`gatehouse sessions reconcile\`)`);
  }
  for (const w of r.warnings) lines.push(`  note: ${safe(w)}`);
  return { text: lines.join('\n'), ok: r.ok };
}

export async function evidenceSampleCommand(dir: string, o: { n: number; seed: string; out?: string; json: boolean }): Promise<string> {
  const r: SampleResult = await sampleEvidence(dir, o);
  if (o.json) return JSON.stringify(r, null, 2);
  return [
    `sampled ${r.picked.length} of ${r.population} statements with seed ${JSON.stringify(r.seed)} into ${r.out}/`,
    ...r.picked.map((p, i) => `  ${String(i + 1).padStart(3)}  row ${String(p.populationRow).padStart(6)}  ${safe(p.sessionId)}  ${p.page}`),
    `  index        ${r.out}/index.html`,
    `  method       ${r.definition}`,
  ].join('\n');
}

/** Where the sessions come from, for the manifest and report: never a password. */
export function describeStore(o: { stateDir: string; store?: string; throughServer: boolean }): string {
  if (o.store) {
    const store = parseStoreOption(o.store);
    if (store.kind === 'firestore') return `Firestore database ${store.databaseId} in project ${store.projectId}`;
    try {
      const u = new URL(store.url);
      u.password = '';
      u.username = '';
      u.search = '';
      return `PostgreSQL session store ${u.toString()}`;
    } catch {
      return 'PostgreSQL session store';
    }
  }
  return `embedded session store in ${o.stateDir}${o.throughServer ? ' (read through the running gatehouse start)' : ''}`;
}
