// The CLI entry: parse arguments, call shared/ or infra/, print, exit. No logic of its own.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { isGatehouseError } from '../shared/errors.ts';
import { VERSION } from '../shared/version.ts';
import { DEFAULT_GATEHOUSE_URL } from '../shared/cli/approvals.ts';
import { APPROVAL_STATUSES } from '../shared/approvals/types.ts';
import { checkStateDir } from '../shared/private-files.ts';

// Each command loads what it needs when it runs, not before: `gatehouse token` must not pay for
// the Google client libraries, nor `--help` for the SQL parser (docs/design.md#fast-start).
const cli = {
  analyze: () => import('../shared/cli/analyze.ts'),
  policyCheck: () => import('../shared/cli/policy-check.ts'),
  sessions: () => import('../shared/cli/sessions.ts'),
  evidence: () => import('../shared/cli/evidence.ts'),
  replay: () => import('../shared/cli/replay.ts'),
  approvals: () => import('../shared/cli/approvals.ts'),
  embedded: () => import('../infra/embedded.ts'),
  devIssuer: () => import('../infra/dev-issuer.ts'),
  store: () => import('../infra/session-store-access.ts'),
  start: () => import('../infra/start-command.ts'),
  policy: () => import('../shared/policy/index.ts'),
  doctor: () => import('../shared/cli/doctor.ts'),
  reconcile: () => import('../shared/cli/reconcile.ts'),
  doctorAccess: () => import('../infra/doctor-access.ts'),
  mcp: () => import('../shared/cli/mcp.ts'),
  devToken: () => import('../infra/dev-token.ts'),
  checkpoint: () => import('../shared/cli/checkpoint.ts'),
};
// Small modules (no dependencies of their own) for what declaring the commands needs.
const STATUS_FILTERS = [...APPROVAL_STATUSES, 'all'] as const;

const DEFAULT_POLICY = 'gatehouse.policy.yaml';
const DEFAULT_STATE_DIR = '.gatehouse';

const program = new Command('gatehouse')
  .description('Gatehouse: the control point between AI agents and PostgreSQL')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  // Every command reads the state dir only if nobody else could have written it (its keys, its
  // embedded stores, server.json): not just `start`, which creates it.
  .hook('preAction', (_program, action) => {
    const dir = action.opts().stateDir;
    if (typeof dir === 'string') checkStateDir(dir);
  });

program
  .command('start')
  .description('run the gateway on one machine with embedded defaults')
  .option('--policy <file>', 'policy file', DEFAULT_POLICY)
  .option('--port <n>', 'port to listen on', (v) => port(v), 8080)
  .option('--state-dir <dir>', 'where embedded data and the dev signing key live', DEFAULT_STATE_DIR)
  .option('--shutdown-grace <ms>', 'on SIGINT/SIGTERM, how long requests in flight may finish', (v) => positiveInt(v, '--shutdown-grace'), 10_000)
  .action(async (o: { policy: string; port: number; stateDir: string; shutdownGrace: number }) => {
    await (await cli.start()).startCommand({ policy: o.policy, port: o.port, stateDir: o.stateDir, graceMs: o.shutdownGrace });
  });

program
  .command('doctor')
  .description("check each connection's role is least-privilege, with its real credentials (exit 1 on any failure)")
  .option('--connection <name>', 'only this connection')
  .option('--json', 'machine-readable output')
  .option('--policy <file>', 'policy file', DEFAULT_POLICY)
  .option('--state-dir <dir>', 'embedded state dir (for embedded://demo)', DEFAULT_STATE_DIR)
  .action(async (o: { connection?: string; json?: boolean; policy: string; stateDir: string }) => {
    const policy = await (await cli.policy()).loadPolicy(o.policy);
    const access = await (await cli.doctorAccess()).openDoctorAccess(policy, o.stateDir, o.connection);
    try {
      for (const note of access.notes) console.error(`note: ${note}`);
      const r = await (await cli.doctor()).doctorCommand({ policy, secrets: access.secrets, connection: o.connection, json: Boolean(o.json) });
      console.log(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await access.close();
    }
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
    const [{ parsePolicy }, { loadOrCreateDevKey, mintDevToken, parseTtl }] = await Promise.all([cli.policy(), cli.devIssuer()]);
    const policy = parsePolicy(readFileSync(o.policy, 'utf8'), o.policy);
    const dev = policy.issuers.find((i) => /\/dev$/.test(i.issuer));
    if (!dev) throw new TypeError(`${o.policy} has no dev issuer (an issuer ending in /dev)`);
    const key = await loadOrCreateDevKey(o.stateDir);
    const groups = o.groups ? o.groups.split(',').map((g) => g.trim()).filter(Boolean) : undefined;
    // The gateway ignores a claimed group the dev issuer's claimGroups does not list: say so here,
    // rather than hand out a token that silently lacks what was asked for.
    const ignored = dev.claimGroups === undefined ? [] : (groups ?? []).filter((g) => !dev.claimGroups!.includes(g));
    if (ignored.length > 0) console.error(`gatehouse token: warning: the gateway will ignore group(s) ${ignored.join(', ')}: the dev issuer's claimGroups in ${o.policy} lists only ${dev.claimGroups!.join(', ')}`);
    const aud = o.aud ?? (typeof dev.audience === 'string' ? dev.audience : dev.audience[0]);
    console.log(await mintDevToken(key, { issuer: dev.issuer, sub: o.sub, groups, aud, ttlSec: parseTtl(o.ttl) }));
  });

program
  .command('analyze')
  .description('show what the PostgreSQL parser makes of a statement (nothing runs)')
  .argument('<sql>')
  .option('--json', 'machine-readable output')
  .action(async (sql: string, o: { json?: boolean }) => {
    console.log(await (await cli.analyze()).analyzeCommand(sql, Boolean(o.json)));
  });

const policyCmd = program.command('policy').description('policy files');
policyCmd
  .command('check')
  .argument('<file>')
  .option('--json', 'machine-readable output')
  .description('validate a policy file; names file, line and field of every mistake')
  .action(async (file: string, o: { json?: boolean }) => {
    const r = await (await cli.policyCheck()).policyCheckCommand(file, Boolean(o.json));
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
const VOTE_KEY_HELP = "the approval desk's published public key: votes count only when its signature holds (default: the state dir's desk key)";
/** The desk key votes are checked with: the file given, else the embedded mode's own (shared/cli/desk-key.ts). */
async function deskKeyFor(o: { stateDir: string; store?: string; votePublicKey?: string }) {
  const { deskKey } = await import('../shared/cli/desk-key.ts');
  return deskKey(o.votePublicKey, o.store ? undefined : (await import('../infra/approval-signing-key.ts')).signingKeyPath(o.stateDir));
}
storeOptions(
  sessionsCmd
    .command('list')
    .description('sessions started in a time range, oldest first')
    .option('--from <date>', 'ISO date or time (inclusive)')
    .option('--to <date>', 'ISO date or time (exclusive)')
    .option('--subject <sub>', 'only this requester')
    .option('--limit <n>', 'at most this many', (v) => positiveInt(v, '--limit'), 100)
    .option('--vote-public-key <file>', VOTE_KEY_HELP),
).action(async (o: { stateDir: string; store?: string; json?: boolean; from?: string; to?: string; subject?: string; limit: number; votePublicKey?: string }) => {
  const log = await (await cli.store()).openSessionStore(o);
  try {
    const query = { from: date(o.from, '--from'), to: date(o.to, '--to'), limit: o.limit, subject: o.subject };
    const listed = await (await cli.sessions()).listSessions(log, query, Boolean(o.json), await deskKeyFor(o));
    console.log(listed.text);
    if (listed.tampered > 0) process.exitCode = 1;
  } finally {
    await log.close();
  }
});
storeOptions(
  sessionsCmd
    .command('show')
    .description("one session's events, with its hash chain re-verified and whether a signed checkpoint covers it")
    .argument('<id>')
    .option('--checkpoints <src>', "checkpoint source (default: the state dir's, when there is one)")
    .option('--public-key <file>', 'the published checkpoint public key')
    .option('--vote-public-key <file>', VOTE_KEY_HELP),
).action(
  async (id: string, o: { stateDir: string; store?: string; json?: boolean; checkpoints?: string; publicKey?: string; votePublicKey?: string }) => {
    const log = await (await cli.store()).openSessionStore(o);
    try {
      const src = o.checkpoints ?? (o.store ? undefined : o.stateDir);
      const { sessionCoverage } = await cli.checkpoint();
      const coverage = src ? (events: Parameters<typeof sessionCoverage>[1]) => sessionCoverage(log, events, src, o.publicKey) : undefined;
      const r = await (await cli.sessions()).showSession(log, id, Boolean(o.json), coverage, await deskKeyFor(o));
      console.log(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await log.close();
    }
  },
);

storeOptions(
  sessionsCmd
    .command('reconcile')
    .description('close sessions a dead gateway left running or at result: committed / rolled_back / unknown, with how it is known')
    .option('--policy <file>', 'the policy naming the target connections (their credentials resolve as in start)', 'gatehouse.policy.yaml')
    .option('--since <date>', 'sessions started at or after this ISO date or time (default: 24 hours ago)')
    .option('--grace-sec <n>', "seconds past a statement's own timeout before it counts as abandoned", (v) => positiveInt(v, '--grace-sec'), 60),
).action(async (o: { stateDir: string; store?: string; json?: boolean; policy: string; since?: string; graceSec: number }) => {
  const log = await (await cli.store()).openSessionStore(o);
  try {
    const since = date(o.since, '--since') ?? new Date(Date.now() - 24 * 3600_000);
    const r = await (await cli.reconcile()).reconcileCommand(log, { policy: o.policy, since, graceSec: o.graceSec, json: Boolean(o.json) });
    console.log(r.text);
    if (r.report.errors > 0 || r.report.skipped.listingTampered > 0 || r.report.skipped.sessionTampered > 0 || r.report.truncated) process.exitCode = 1;
  } finally {
    await log.close();
  }
});

// --- evidence for auditors (issue 6): sessions replay · evidence export|verify|sample ----------
storeOptions(
  sessionsCmd
    .command('replay')
    .description('one session as it happened: who, what, approvals, what ran, and the result the bot saw')
    .argument('<id>')
    .option('--vote-public-key <file>', VOTE_KEY_HELP),
).action(async (id: string, o: { stateDir: string; store?: string; json?: boolean; votePublicKey?: string }) => {
  const log = await (await cli.store()).openSessionStore(o);
  try {
    const r = await (await cli.replay()).replayCommand(log, id, Boolean(o.json), await deskKeyFor(o));
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
    .option('--checkpoints <src>', "signed checkpoints to prove the export against (default: the state dir's)")
    .option('--public-key <file>', 'the published checkpoint public key')
    .option('--vote-public-key <file>', "the approval desk's public key, recorded in the manifest (default: the state dir's desk key)"),
).action(async (o: { stateDir: string; store?: string; json?: boolean; from: string; to: string; out: string; checkpoints?: string; publicKey?: string; votePublicKey?: string }) => {
  const { describeStore, evidenceExportCommand } = await cli.evidence();
  const throughServer = !o.store && (await cli.embedded()).runningServer(o.stateDir) !== undefined;
  const log = await (await cli.store()).openSessionStore(o);
  try {
    const r = await evidenceExportCommand(log, {
      from: date(o.from, '--from')!,
      to: date(o.to, '--to')!,
      out: o.out,
      json: Boolean(o.json),
      source: describeStore({ stateDir: o.stateDir, store: o.store, throughServer }),
      checkpoints: await (await cli.checkpoint()).exportCheckpoints(o.checkpoints ?? (o.store ? undefined : o.stateDir), o.publicKey),
      votePublicKeyPem: (await cli.evidence()).exportVoteKey(o.votePublicKey, o.store ? undefined : (await import('../infra/approval-signing-key.ts')).signingKeyPath(o.stateDir)),
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
  .option('--json', 'machine-readable output')
  .option('--checkpoints <src>', 'signed checkpoints: a folder, a state dir, or gs://bucket/prefix')
  .option('--public-key <file>', 'the published checkpoint public key (default: the one kept with the checkpoints)')
  .option('--expect-root <hex>', 'a log root you pinned: the export must be proved against it or a checkpoint consistent with it')
  .option('--vote-public-key <file>', "the approval desk's published public key: every vote's signature is checked against it (default: the key the manifest names)")
  .option('--full-pass', 'read every line on one thread, skipping the parallel clean pass (same answer, slower)')
  .action(async (dir: string, o: { json?: boolean; checkpoints?: string; publicKey?: string; expectRoot?: string; votePublicKey?: string; fullPass?: boolean }) => {
    const r = await (await cli.evidence()).evidenceVerifyCommand(dir, Boolean(o.json), { checkpoints: o.checkpoints, publicKey: o.publicKey, expectRoot: o.expectRoot, votePublicKey: o.votePublicKey, fullPass: Boolean(o.fullPass) });
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
    console.log(await (await cli.evidence()).evidenceSampleCommand(dir, { n: o.n, seed: o.seed, out: o.out, json: Boolean(o.json) }));
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

const approvalsCmd = program.command('approvals').description('statements held for human approval');
apiOptions(
  approvalsCmd
    .command('list')
    .description('approvals you may see, oldest first')
    .addOption(new Option('--status <status>', 'which ones').choices([...STATUS_FILTERS]).default('pending'))
    .option('--json', 'machine-readable output'),
).action(async (o: { url: string; token?: string; status: string; json?: boolean }) => {
  console.log(await (await cli.approvals()).listApprovalsCommand(clientOf(o), o.status, Boolean(o.json)));
});
apiOptions(approvalsCmd.command('show').description('one approval: the statement, its analysis, the votes').argument('<id>').option('--json', 'machine-readable output')).action(
  async (id: string, o: { url: string; token?: string; json?: boolean }) => {
    console.log(await (await cli.approvals()).showApprovalCommand(clientOf(o), id, Boolean(o.json)));
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
    console.log(await (await cli.approvals()).decideApprovalCommand(clientOf(o), id, verdict, o.comment, Boolean(o.json)));
  });
}

const checkpointCmd = program.command('checkpoint').description('signed checkpoints of the global Merkle log');
checkpointCmd
  .command('public-key')
  .description('the public key checkpoints are signed with (publish it apart from the state dir)')
  .option('--state-dir <dir>', 'embedded state dir', DEFAULT_STATE_DIR)
  .option('--key <kms>', 'kms://…/cryptoKeyVersions/N: the Cloud KMS checkpoint key instead (GCP)')
  .option('--json', 'machine-readable output')
  .action(async (o: { stateDir: string; key?: string; json?: boolean }) => {
    const r = o.key
      ? await (await import('../shared/cli/checkpoint-gcp.ts')).kmsCheckpointPublicKeyCommand(o.key, Boolean(o.json))
      : await (await cli.checkpoint()).checkpointPublicKeyCommand(o.stateDir, Boolean(o.json));
    (r.ok ? console.log : console.error)(r.text);
    if (!r.ok) process.exitCode = 1;
  });
checkpointCmd
  .command('status')
  .description("the latest checkpoint, and the signer's last attempt and failure")
  .option('--state-dir <dir>', 'embedded state dir', DEFAULT_STATE_DIR)
  .option('--store <url>', 'firestore://PROJECT[/DATABASE]: the checkpoint function\'s journal and failures (GCP)')
  .option('--public-key <file>', 'with --store: show the newest checkpoint whose signature verifies with this key')
  .option('--json', 'machine-readable output')
  .action(async (o: { stateDir: string; store?: string; publicKey?: string; json?: boolean }) => {
    const r = o.store
      ? await (await import('../shared/cli/checkpoint-gcp.ts')).gcpCheckpointStatusCommand(o.store, o.publicKey, Boolean(o.json))
      : await (await cli.checkpoint()).checkpointStatusCommand(o.stateDir, Boolean(o.json));
    console.log(r.text);
    if (!r.ok) process.exitCode = 1;
  });
storeOptions(checkpointCmd.command('sign').description('sign a checkpoint now (`gatehouse start` does every minute)')).action(
  async (o: { stateDir: string; store?: string; json?: boolean }) => {
    const log = await (await cli.store()).openSessionStore(o);
    try {
      const r = await (await cli.checkpoint()).checkpointSignCommand(log, o.stateDir, Boolean(o.json));
      (r.ok ? console.log : console.error)(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await log.close();
    }
  },
);

// --- agents (issue 18): an MCP server that is a client of a Gatehouse -------------------------
program
  .command('mcp')
  .description('an MCP server for AI agents, over stdio (default) or Streamable HTTP; a client of a Gatehouse, holding no database credential')
  .option('--url <url>', 'the Gatehouse to talk to (env GATEHOUSE_URL)', process.env.GATEHOUSE_URL ?? DEFAULT_GATEHOUSE_URL)
  .option('--model <model>', 'the model (and version) driving the agent, sent as X-Agent-Model (default: the MCP client\'s clientInfo)')
  .option('--token-command <command>', "prints an ID token, run when one is needed, e.g. 'gcloud auth print-identity-token'")
  .option('--dev-sub <email>', 'locally: tokens from the dev issuer of `gatehouse start` for this subject')
  .option('--dev-groups <a,b>', 'groups claim of those dev tokens')
  .option('--audience <aud>', 'audience of Google ID tokens (default: --url)')
  .option('--policy <file>', 'policy file naming the dev issuer (with --dev-sub)', DEFAULT_POLICY)
  .option('--state-dir <dir>', 'where the dev signing key lives (with --dev-sub), and where --http writes its secret (mcp-http.token)', DEFAULT_STATE_DIR)
  .option('--http', 'serve Streamable HTTP at /mcp instead of stdio; clients must send Authorization: Bearer <secret>')
  .option('--host <host>', 'with --http: address to listen on', '127.0.0.1')
  .option('--port <n>', 'with --http: port to listen on (0: any free one)', (v) => port(v), 8090)
  .option('--http-token-file <file>', 'with --http: the secret clients send, from this file (yours, 0600) instead of a new one in <state-dir>/mcp-http.token')
  .action(
    async (o: { url: string; model?: string; tokenCommand?: string; devSub?: string; devGroups?: string; audience?: string; policy: string; stateDir: string; http?: boolean; host: string; port: number; httpTokenFile?: string }) => {
      const devTokens = o.devSub
        ? (await cli.devToken()).devTokenProvider({ policyPath: o.policy, stateDir: o.stateDir, sub: o.devSub, groups: o.devGroups?.split(',').map((g) => g.trim()).filter(Boolean) })
        : undefined;
      const mcp = await cli.mcp();
      // The handlers go in before the server announces itself: a SIGTERM that came between the
      // announcement and them took the default action (die on the spot), leaving the secret file
      // and its lock behind. One that comes while it starts waits for it, then closes it.
      let ready: Promise<{ close(): Promise<void> }> | undefined;
      const stop = async () => {
        const server = await ready?.catch(() => undefined);
        await server?.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
      ready = mcp.runMcp({ ...o, token: process.env.GATEHOUSE_TOKEN, devTokens }, (line) => console.error(line));
      await ready;
    },
  );

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
