// The CLI entry: parse arguments, call shared/ or infra/, print, exit. No logic of its own.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { analyzeCommand } from '../shared/cli/analyze.ts';
import { policyCheckCommand } from '../shared/cli/policy-check.ts';
import { listSessions, showSession } from '../shared/cli/sessions.ts';
import { describeStore, evidenceExportCommand, evidenceSampleCommand, evidenceVerifyCommand } from '../shared/cli/evidence.ts';
import { replayCommand } from '../shared/cli/replay.ts';
import { runningServer } from '../infra/embedded.ts';
import { DEFAULT_GATEHOUSE_URL, decideApprovalCommand, listApprovalsCommand, showApprovalCommand } from '../shared/cli/approvals.ts';
import { STATUS_FILTERS } from '../shared/approvals/review.ts';
import { isGatehouseError } from '../shared/errors.ts';
import { parsePolicy } from '../shared/policy/index.ts';
import { loadOrCreateDevKey, mintDevToken, parseTtl } from '../infra/dev-issuer.ts';
import { startEmbedded } from '../infra/embedded.ts';
import { openSessionStore } from '../infra/session-store-access.ts';
import { checkpointIntervalFromEnv, startLocalCheckpointSigner } from '../infra/checkpoint-signer.ts';
import { checkpointPublicKeyCommand, checkpointSignCommand, checkpointStatusCommand, exportCheckpoints, sessionCoverage } from '../shared/cli/checkpoint.ts';

const DEFAULT_POLICY = 'gatehouse.policy.yaml';
const DEFAULT_STATE_DIR = '.gatehouse';

const program = new Command('gatehouse')
  .description('Gatehouse: the control point between AI agents and PostgreSQL')
  .showHelpAfterError();

program
  .command('start')
  .description('run the gateway on one machine with embedded defaults')
  .option('--policy <file>', 'policy file', DEFAULT_POLICY)
  .option('--port <n>', 'port to listen on', (v) => port(v), 8080)
  .option('--state-dir <dir>', 'where embedded data and the dev signing key live', DEFAULT_STATE_DIR)
  .action(async (o: { policy: string; port: number; stateDir: string }) => {
    const started = Date.now();
    const g = await startEmbedded({ policyPath: o.policy, stateDir: o.stateDir, port: o.port });
    // Checkpoints: a step of its own, off the request path (infra/checkpoint-signer.ts).
    const signer = await startLocalCheckpointSigner({
      stateDir: o.stateDir,
      sessionStoreUrl: runningServer(o.stateDir)!.sessionStoreUrl,
      intervalMs: checkpointIntervalFromEnv(),
      report: (line) => console.log(`[checkpoints] ${line}`),
    });
    const devIssuer = g.policy.issuers.find((i) => i.issuer === g.issuer);
    console.log(`Gatehouse is listening on ${g.url} (ready in ${Date.now() - started} ms)`);
    console.log(`  policy        ${o.policy} (sha256 ${g.policy.sha256.slice(0, 12)}…)`);
    console.log(`  connections   ${Object.keys(g.policy.connections).join(', ')}`);
    console.log(`  session log   embedded PostgreSQL store in ${o.stateDir}/session-db`);
    console.log(`  approvals     embedded PostgreSQL store in ${o.stateDir}/state-db; requests are announced on this console`);
    console.log(`  dev issuer    ${g.issuer} (JWKS ${g.issuer}/jwks.json)`);
    console.log(`  checkpoints   signed every ${checkpointIntervalFromEnv() / 1000} s into ${o.stateDir}/checkpoints (npx gatehouse checkpoint status)`);
    if (!devIssuer) {
      console.log(`  note: the policy does not trust ${g.issuer}, so dev tokens will be refused; add it to issuers to use them`);
    }
    console.log('');
    console.log('Try it:');
    console.log('  TOKEN=$(npx gatehouse token --sub review-bot@acme-prod.iam.gserviceaccount.com)');
    console.log(`  curl -s ${g.url}/v1/query -H "Authorization: Bearer $TOKEN" -H 'X-Agent-Model: demo-model-1' \\`);
    console.log(`    -H 'Content-Type: application/json' -d '{"connection":"demo","sql":"SELECT name, email FROM customers LIMIT 5"}'`);
    console.log('  # a write needs a DBA: 202 pending_approval with an approval id, then');
    console.log('  GATEHOUSE_TOKEN=$(npx gatehouse token --sub alice@acme.com) npx gatehouse approvals approve ID --comment "checked"');
    console.log('');
    console.log('Stop with Ctrl-C.');
    const stop = async () => {
      await signer.close();
      await g.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  });

program
  .command('token')
  .description('mint a token from the local dev issuer (prints only the token)')
  .requiredOption('--sub <subject>', 'subject (an email for service accounts and people)')
  .option('--groups <a,b>', 'groups claim, comma-separated')
  .option('--aud <audience>', 'audience (default: the dev issuer\'s first audience in the policy)')
  .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h', '1h')
  .option('--policy <file>', 'policy file naming the dev issuer', DEFAULT_POLICY)
  .option('--state-dir <dir>', 'where the dev signing key lives', DEFAULT_STATE_DIR)
  .action(async (o: { sub: string; groups?: string; aud?: string; ttl: string; policy: string; stateDir: string }) => {
    const policy = parsePolicy(readFileSync(o.policy, 'utf8'), o.policy);
    const dev = policy.issuers.find((i) => /\/dev$/.test(i.issuer));
    if (!dev) throw new TypeError(`${o.policy} has no dev issuer (an issuer ending in /dev)`);
    const key = await loadOrCreateDevKey(o.stateDir);
    const groups = o.groups ? o.groups.split(',').map((g) => g.trim()).filter(Boolean) : undefined;
    const aud = o.aud ?? (typeof dev.audience === 'string' ? dev.audience : dev.audience[0]);
    console.log(await mintDevToken(key, { issuer: dev.issuer, sub: o.sub, groups, aud, ttlSec: parseTtl(o.ttl) }));
  });

program
  .command('analyze')
  .description('show what the PostgreSQL parser makes of a statement (nothing runs)')
  .argument('<sql>')
  .option('--json', 'machine-readable output')
  .action(async (sql: string, o: { json?: boolean }) => {
    console.log(await analyzeCommand(sql, Boolean(o.json)));
  });

const policyCmd = program.command('policy').description('policy files');
policyCmd
  .command('check')
  .argument('<file>')
  .option('--json', 'machine-readable output')
  .description('validate a policy file; names file, line and field of every mistake')
  .action(async (file: string, o: { json?: boolean }) => {
    const r = await policyCheckCommand(file, Boolean(o.json));
    (r.ok ? console.log : console.error)(r.text);
    if (!r.ok) process.exitCode = 1;
  });

const storeOptions = (c: Command) =>
  c
    .option('--state-dir <dir>', 'embedded state dir', DEFAULT_STATE_DIR)
    .addOption(
      new Option(
        '--store <url>',
        'read another session store: a self-hosted PostgreSQL one (postgres://…), or on GCP firestore://PROJECT[/DATABASE] ' +
          '(DATABASE defaults to gatehouse-audit; uses your Application Default Credentials, and only reads)',
      ),
    )
    .option('--json', 'machine-readable output');

const sessionsCmd = program.command('sessions').description('the session log');
storeOptions(
  sessionsCmd
    .command('list')
    .description('sessions started in a time range, oldest first')
    .option('--from <date>', 'ISO date or time (inclusive)')
    .option('--to <date>', 'ISO date or time (exclusive)')
    .option('--subject <sub>', 'only this requester')
    .option('--limit <n>', 'at most this many', (v) => positiveInt(v, '--limit'), 100),
).action(async (o: { stateDir: string; store?: string; json?: boolean; from?: string; to?: string; subject?: string; limit: number }) => {
  const log = await openSessionStore(o);
  try {
    console.log(await listSessions(log, { from: date(o.from, '--from'), to: date(o.to, '--to'), limit: o.limit, subject: o.subject }, Boolean(o.json)));
  } finally {
    await log.close();
  }
});
storeOptions(
  sessionsCmd
    .command('show')
    .description("one session's events, with its hash chain re-verified and whether a signed checkpoint covers it")
    .argument('<id>')
    .option('--checkpoints <src>', 'checkpoint source (default: the state dir\'s, when there is one)')
    .option('--public-key <file>', 'the published checkpoint public key'),
).action(
  async (id: string, o: { stateDir: string; store?: string; json?: boolean; checkpoints?: string; publicKey?: string }) => {
    const log = await openSessionStore(o);
    try {
      const src = o.checkpoints ?? (o.store ? undefined : o.stateDir);
      const r = await showSession(log, id, Boolean(o.json), src ? (events) => sessionCoverage(log, events, src, o.publicKey) : undefined);
      console.log(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await log.close();
    }
  },
);

// --- evidence for auditors (issue 6): sessions replay · evidence export|verify|sample ----------
storeOptions(
  sessionsCmd.command('replay').description('one session as it happened: who, what, approvals, what ran, and the result the bot saw').argument('<id>'),
).action(async (id: string, o: { stateDir: string; store?: string; json?: boolean }) => {
  const log = await openSessionStore(o);
  try {
    const r = await replayCommand(log, id, Boolean(o.json));
    console.log(r.text);
    if (!r.ok) process.exitCode = 1;
  } finally {
    await log.close();
  }
});

const evidenceCmd = program.command('evidence').description('evidence an auditor can take away: export, verify, sample');
storeOptions(
  evidenceCmd
    .command('export')
    .description('write the sessions of a time range as a verifiable evidence folder (streams; works while `gatehouse start` runs)')
    .requiredOption('--from <date>', 'ISO date or time (inclusive), e.g. 2026-01-01')
    .requiredOption('--to <date>', 'ISO date or time (exclusive), e.g. 2026-04-01')
    .requiredOption('--out <dir>', 'the folder to create (must not exist, or be empty)')
    .option('--checkpoints <src>', 'signed checkpoints to prove the export against (default: the state dir\'s)')
    .option('--public-key <file>', 'the published checkpoint public key'),
).action(async (o: { stateDir: string; store?: string; json?: boolean; from: string; to: string; out: string; checkpoints?: string; publicKey?: string }) => {
  const throughServer = !o.store && runningServer(o.stateDir) !== undefined;
  const log = await openSessionStore(o);
  try {
    const r = await evidenceExportCommand(log, {
      checkpoints: await exportCheckpoints(o.checkpoints ?? (o.store ? undefined : o.stateDir), o.publicKey),
      from: date(o.from, '--from')!,
      to: date(o.to, '--to')!,
      out: o.out,
      json: Boolean(o.json),
      source: describeStore({ stateDir: o.stateDir, store: o.store, throughServer }),
    });
    console.log(r.text);
    if (!r.ok) process.exitCode = 1;
  } finally {
    await log.close();
  }
});
evidenceCmd
  .command('verify')
  .description('re-check an evidence folder: every event hash, chain, file digest, the counts and the Merkle root')
  .argument('<dir>')
  .option('--checkpoints <src>', 'signed checkpoints: a folder, a state dir, or gs://bucket/prefix')
  .option('--public-key <file>', 'the published checkpoint public key (default: the one kept with the checkpoints)')
  .option('--expect-root <hex>', 'a log root you pinned: the export must be proved against it or a checkpoint consistent with it')
  .option('--json', 'machine-readable output')
  .action(async (dir: string, o: { json?: boolean; checkpoints?: string; publicKey?: string; expectRoot?: string }) => {
    const r = await evidenceVerifyCommand(dir, Boolean(o.json), { checkpoints: o.checkpoints, publicKey: o.publicKey, expectRoot: o.expectRoot });
    (r.ok ? console.log : console.error)(r.text);
    if (!r.ok) process.exitCode = 1;
  });
evidenceCmd
  .command('sample')
  .description('a reproducible random sample of the population, one readable page per statement, into DIR/samples/')
  .argument('<dir>')
  .requiredOption('--seed <seed>', 'any text; the same seed picks the same statements')
  .option('--n <n>', 'how many statements', (v) => positiveInt(v, '--n'), 25)
  .option('--out <dir>', 'where to write the pages (default DIR/samples)')
  .option('--json', 'machine-readable output')
  .action(async (dir: string, o: { seed: string; n: number; out?: string; json?: boolean }) => {
    console.log(await evidenceSampleCommand(dir, { n: o.n, seed: o.seed, out: o.out, json: Boolean(o.json) }));
  });
// --- end of evidence ---------------------------------------------------------------------------

const apiOptions = (c: Command) =>
  c
    .option('--url <url>', 'the Gatehouse to talk to (env GATEHOUSE_URL)', process.env.GATEHOUSE_URL ?? DEFAULT_GATEHOUSE_URL)
    .option('--token <token>', "your ID token (env GATEHOUSE_TOKEN); locally: $(npx gatehouse token --sub YOU)");
const clientOf = (o: { url: string; token?: string }) => {
  const token = o.token ?? process.env.GATEHOUSE_TOKEN;
  if (!token) throw new TypeError('a token is required: --token or GATEHOUSE_TOKEN (locally: npx gatehouse token --sub YOUR_EMAIL)');
  return { url: o.url, token };
};

const checkpointCmd = program.command('checkpoint').description('signed checkpoints of the global Merkle log');
checkpointCmd
  .command('public-key')
  .description('the public key checkpoints are signed with (publish it apart from the state dir)')
  .option('--state-dir <dir>', 'embedded state dir', DEFAULT_STATE_DIR)
  .option('--json', 'machine-readable output')
  .action(async (o: { stateDir: string; json?: boolean }) => {
    const r = await checkpointPublicKeyCommand(o.stateDir, Boolean(o.json));
    (r.ok ? console.log : console.error)(r.text);
    if (!r.ok) process.exitCode = 1;
  });
checkpointCmd
  .command('status')
  .description('the latest checkpoint, and the signer\'s last attempt and failure')
  .option('--state-dir <dir>', 'embedded state dir', DEFAULT_STATE_DIR)
  .option('--json', 'machine-readable output')
  .action(async (o: { stateDir: string; json?: boolean }) => {
    const r = await checkpointStatusCommand(o.stateDir, Boolean(o.json));
    console.log(r.text);
    if (!r.ok) process.exitCode = 1;
  });
storeOptions(checkpointCmd.command('sign').description('sign a checkpoint now (`gatehouse start` does every minute)')).action(
  async (o: { stateDir: string; store?: string; json?: boolean }) => {
    const log = await openSessionStore(o);
    try {
      const r = await checkpointSignCommand(log, o.stateDir, Boolean(o.json));
      (r.ok ? console.log : console.error)(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await log.close();
    }
  },
);

const approvalsCmd = program.command('approvals').description('statements held for human approval');
apiOptions(
  approvalsCmd
    .command('list')
    .description('approvals you may see, oldest first')
    .addOption(new Option('--status <status>', 'which ones').choices([...STATUS_FILTERS]).default('pending'))
    .option('--json', 'machine-readable output'),
).action(async (o: { url: string; token?: string; status: string; json?: boolean }) => {
  console.log(await listApprovalsCommand(clientOf(o), o.status, Boolean(o.json)));
});
apiOptions(approvalsCmd.command('show').description('one approval: the statement, its analysis, the votes').argument('<id>').option('--json', 'machine-readable output')).action(
  async (id: string, o: { url: string; token?: string; json?: boolean }) => {
    console.log(await showApprovalCommand(clientOf(o), id, Boolean(o.json)));
  },
);
for (const verdict of ['approve', 'reject'] as const) {
  apiOptions(
    approvalsCmd
      .command(verdict)
      .description(`${verdict} an approval (your reason is recorded in the requesting session)`)
      .argument('<id>')
      .requiredOption('--comment <text>', 'why (required, at most 2000 characters)')
      .option('--json', 'machine-readable output'),
  ).action(async (id: string, o: { url: string; token?: string; comment: string; json?: boolean }) => {
    console.log(await decideApprovalCommand(clientOf(o), id, verdict, o.comment, Boolean(o.json)));
  });
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new TypeError(`--port must be 0–65535, not ${v}`);
  return n;
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`${name} must be a positive whole number`);
  return n;
}

function date(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new TypeError(`${name} is not a date: ${v}`);
  return d;
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (isGatehouseError(e)) {
    // The message already lists every problem (a policy's, one per line, with file and line).
    console.error(`error [${e.code}]: ${e.message}`);
  } else if (e instanceof TypeError) {
    console.error(`error: ${e.message}`);
  } else {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exitCode = 1;
}
