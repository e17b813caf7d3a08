// The CLI entry: parse arguments, call shared/ or infra/, print, exit. No logic of its own.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { analyzeCommand } from '../shared/cli/analyze.ts';
import { policyCheckCommand } from '../shared/cli/policy-check.ts';
import { listSessions, showSession } from '../shared/cli/sessions.ts';
import { isGatehouseError } from '../shared/errors.ts';
import { parsePolicy } from '../shared/policy/index.ts';
import { loadOrCreateDevKey, mintDevToken, parseTtl } from '../infra/dev-issuer.ts';
import { startEmbedded } from '../infra/embedded.ts';
import { openSessionStore } from '../infra/session-store-access.ts';

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
    const devIssuer = g.policy.issuers.find((i) => i.issuer === g.issuer);
    console.log(`Gatehouse is listening on ${g.url} (ready in ${Date.now() - started} ms)`);
    console.log(`  policy        ${o.policy} (sha256 ${g.policy.sha256.slice(0, 12)}…)`);
    console.log(`  connections   ${Object.keys(g.policy.connections).join(', ')}`);
    console.log(`  session log   embedded PostgreSQL store in ${o.stateDir}/session-db`);
    console.log(`  dev issuer    ${g.issuer} (JWKS ${g.issuer}/jwks.json)`);
    if (!devIssuer) {
      console.log(`  note: the policy does not trust ${g.issuer}, so dev tokens will be refused; add it to issuers to use them`);
    }
    console.log('');
    console.log('Try it:');
    console.log('  TOKEN=$(npx gatehouse token --sub review-bot@acme-prod.iam.gserviceaccount.com)');
    console.log(`  curl -s ${g.url}/v1/query -H "Authorization: Bearer $TOKEN" -H 'X-Agent-Model: demo-model-1' \\`);
    console.log(`    -H 'Content-Type: application/json' -d '{"connection":"demo","sql":"SELECT name, email FROM customers LIMIT 5"}'`);
    console.log('');
    console.log('Stop with Ctrl-C.');
    const stop = async () => {
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
  .option('--aud <audience>', 'audience (default: the dev issuer audience in the policy)')
  .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h', '1h')
  .option('--policy <file>', 'policy file naming the dev issuer', DEFAULT_POLICY)
  .option('--state-dir <dir>', 'where the dev signing key lives', DEFAULT_STATE_DIR)
  .action(async (o: { sub: string; groups?: string; aud?: string; ttl: string; policy: string; stateDir: string }) => {
    const policy = parsePolicy(readFileSync(o.policy, 'utf8'), o.policy);
    const dev = policy.issuers.find((i) => /\/dev$/.test(i.issuer));
    if (!dev) throw new TypeError(`${o.policy} has no dev issuer (an issuer ending in /dev)`);
    const key = await loadOrCreateDevKey(o.stateDir);
    const groups = o.groups ? o.groups.split(',').map((g) => g.trim()).filter(Boolean) : undefined;
    console.log(await mintDevToken(key, { issuer: dev.issuer, sub: o.sub, groups, aud: o.aud ?? dev.audience, ttlSec: parseTtl(o.ttl) }));
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
    .addOption(new Option('--store <url>', 'a self-hosted PostgreSQL session store (postgres://…)'))
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
storeOptions(sessionsCmd.command('show').description("one session's events, with its hash chain re-verified").argument('<id>')).action(
  async (id: string, o: { stateDir: string; store?: string; json?: boolean }) => {
    const log = await openSessionStore(o);
    try {
      const r = await showSession(log, id, Boolean(o.json));
      console.log(r.text);
      if (!r.ok) process.exitCode = 1;
    } finally {
      await log.close();
    }
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
