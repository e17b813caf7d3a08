// `gatehouse start`: the embedded gateway in the foreground. On a terminal it greets a person (a
// banner, readable request lines); otherwise stdout carries only JSON lines, one per request, so a
// log collector never has to skip prose. SIGINT/SIGTERM stop it gracefully and say what was done;
// a second signal while stopping exits at once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../functions/request-log.ts';
import { VERSION } from '../shared/version.ts';
import { startupDoctorLines } from './doctor-access.ts';
import { checkpointIntervalFromEnv, startLocalCheckpointSigner } from './checkpoint-signer.ts';
import { runningServer, startEmbedded } from './embedded.ts';

export interface StartOptions {
  readonly policy: string;
  readonly port: number;
  readonly stateDir: string;
  /** How long in-flight requests may run on after a stop signal. */
  readonly graceMs: number;
}

export async function startCommand(o: StartOptions): Promise<void> {
  const started = performance.now();
  const firstStart = !existsSync(join(o.stateDir, 'session-db'));
  const logger = await createLogger();
  const g = await startEmbedded({ policyPath: o.policy, stateDir: o.stateDir, port: o.port, logger });
  const readyMs = Math.round(performance.now() - started);
  const devIssuer = g.policy.issuers.find((i) => i.issuer === g.issuer);

  // Signal handlers first, before anything says the server is up: a stop signal from then on
  // must drain requests in flight, never take the default action (exit at once).
  let signer: { close(): Promise<void> } | undefined;
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, `${signal} again: exiting now, without waiting`);
      process.exit(1);
    }
    stopping = true;
    const inFlight = g.inFlight();
    logger.info({ signal, inFlight, graceMs: o.graceMs }, `${signal}: stopped accepting connections; ${inFlight} request(s) in flight, waiting up to ${o.graceMs} ms`);
    try {
      await signer?.close(); // no checkpoint is being written while the store closes
      const r = await g.shutdown(o.graceMs);
      logger.info(
        { finished: r.finished, abandoned: r.abandoned, waitedMs: r.waitedMs },
        r.abandoned === 0
          ? `${r.finished} in-flight request(s) finished (waited ${r.waitedMs} ms)`
          : `${r.finished} in-flight request(s) finished, ${r.abandoned} cut at the deadline (${o.graceMs} ms)`,
      );
      logger.info({ closedMs: r.closedMs }, `closed the connection pools and the embedded databases (${r.closedMs} ms); stopped`);
      process.exit(0);
    } catch (e) {
      logger.error({ errorName: e instanceof Error ? e.name : 'unknown' }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  if (process.stdout.isTTY) banner(g.url, g.issuer, g.policy.sha256, Object.keys(g.policy.connections), o, readyMs, firstStart, Boolean(devIssuer));
  logger.info(
    { url: g.url, version: VERSION, readyMs, firstStart, policy: o.policy, policySha256: g.policy.sha256, connections: Object.keys(g.policy.connections) },
    `Gatehouse is listening on ${g.url} (ready in ${readyMs} ms)`,
  );
  // Checkpoints: a step of its own, off the request path (infra/checkpoint-signer.ts).
  signer = await startLocalCheckpointSigner({
    stateDir: o.stateDir,
    sessionStoreUrl: runningServer(o.stateDir)!.sessionStoreUrl,
    intervalMs: checkpointIntervalFromEnv(),
    report: (line) => logger.info({ checkpoints: line }, `checkpoints ${line}`),
  });

  if (stopping) await signer.close();

  // Least privilege checked, not assumed: one line per connection, bounded, never blocking start.
  // After the signal handlers: the check waits behind requests already running on the demo
  // database (PGlite is one session), and a stop signal meanwhile must still drain them.
  for (const line of await startupDoctorLines(g)) {
    if (stopping) break;
    if (process.stdout.isTTY) process.stdout.write(`  doctor        ${line}\n`);
    else logger.info({ doctor: line }, `doctor ${line}`);
  }
}

/** Only where a person reads it: stdout is a terminal. */
function banner(url: string, issuer: string, sha256: string, connections: string[], o: StartOptions, readyMs: number, firstStart: boolean, trusted: boolean): void {
  const print = (line = '') => process.stdout.write(`${line}\n`);
  print(`Gatehouse ${VERSION} is listening on ${url} (ready in ${(readyMs / 1000).toFixed(1)} s${firstStart ? ', first start: databases created' : ''})`);
  print(`  policy        ${o.policy} (sha256 ${sha256.slice(0, 12)}…)`);
  print(`  connections   ${connections.join(', ')}`);
  print(`  session log   embedded PostgreSQL store in ${o.stateDir}/session-db`);
  print(`  approvals     embedded PostgreSQL store in ${o.stateDir}/state-db; requests are announced on this console`);
  print(`  dev issuer    ${issuer} (JWKS ${issuer}/jwks.json)`);
  print(`  health        ${url}/healthz · ${url}/readyz`);
  if (!trusted) print(`  note: the policy does not trust ${issuer}, so dev tokens will be refused; add it to issuers to use them`);
  print('');
  print('Try it:');
  print('  TOKEN=$(npx gatehouse token --sub review-bot@acme-prod.iam.gserviceaccount.com)');
  print(`  curl -s ${url}/v1/query -H "Authorization: Bearer $TOKEN" -H 'X-Agent-Model: demo-model-1' \\`);
  print(`    -H 'Content-Type: application/json' -d '{"connection":"demo","sql":"SELECT name, email FROM customers LIMIT 5"}'`);
  print('  # a write needs a DBA: 202 pending_approval with an approval id, then');
  print('  GATEHOUSE_TOKEN=$(npx gatehouse token --sub alice@acme.com) npx gatehouse approvals approve ID --comment "checked"');
  print('');
  print('Stop with Ctrl-C (requests in flight finish first).');
}
