// `gatehouse start`: the whole gateway on one machine with embedded defaults — the demo database
// and the session store each a PGlite data directory served over the Postgres wire (so the
// gateway always speaks `pg`), the dev OIDC issuer at /dev, every route on one port.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRuntime, webhooksFromEnv, type Runtime } from '../shared/config.ts';
import { loadPolicy } from '../shared/policy/index.ts';
import type { Policy } from '../shared/policy/types.ts';
import { queryHandler } from '../functions/query.ts';
import { approvalsHandler } from '../functions/approvals.ts';
import { devIssuerRoutes, devJwks, loadOrCreateDevKey, type DevIssuerKey } from './dev-issuer.ts';
import { startLocalServer, type ShutdownReport } from './local-server.ts';
import { connectionChecks, healthHandler, policyCheck, postgresReachableCheck, postgresSessionLogCheck, readyHandler } from './readiness.ts';
import type { Logger } from '../functions/request-log.ts';
import { startEmbeddedDatabases } from './embedded-databases.ts';
import { EMBEDDED_MASKING_KEY_REF, loadOrCreateMaskingKey } from './masking-key.ts';
import { freePort } from './free-port.ts';
import { checkTrustedFile, ensurePrivateDir, readPrivateFile } from '../shared/private-files.ts';
import { EMBEDDED_SIGNING_KEY_REF, loadOrCreateSigningKey } from './approval-signing-key.ts';

export interface EmbeddedOptions {
  readonly policyPath: string;
  readonly stateDir: string;
  readonly port: number;
  readonly host?: string;
  /** One structured line per request (and the shutdown's steps) when set. */
  readonly logger?: Logger;
}

/** What a graceful stop did, step by step, for the operator. */
export interface StopReport extends ShutdownReport {
  readonly closedMs: number;
}

export interface Embedded {
  readonly url: string;
  readonly issuer: string;
  readonly policy: Policy;
  readonly runtime: Runtime;
  /** The embedded demo database's loopback URL (no password: PGlite has none), when it runs. */
  readonly demoUrl?: string;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Immediate stop (tests). */
  close(): Promise<void>;
  /** Graceful stop: no new requests, in-flight ones finish within `graceMs`, then pools and databases close. */
  shutdown(graceMs: number): Promise<StopReport>;
}

/** What a running `gatehouse start` leaves in its state dir, so the CLI can go through it. */
export interface ServerInfo {
  readonly pid: number;
  readonly url: string;
  readonly sessionStoreUrl: string;
  /** For `gatehouse doctor` on embedded://demo while the server holds the data directory. */
  readonly demoUrl?: string;
}

export const EMBEDDED_DATABASES = ['demo'] as const;

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  const host = options.host ?? '127.0.0.1';
  // The port is fixed before anything starts: the dev issuer's URL (and so every token) names it.
  const port = options.port || (await freePort());
  const issuer = `http://${host}:${port}/dev`;
  // The policy is authority: one another local user could have written is refused, like the state dir.
  checkTrustedFile(options.policyPath, 'the policy file');
  const policy = await loadPolicy(options.policyPath);
  for (const [name, c] of Object.entries(policy.connections)) {
    const ref = /^embedded:\/\/(.+)$/.exec(c.credentials)?.[1];
    if (ref !== undefined && !(EMBEDDED_DATABASES as readonly string[]).includes(ref)) {
      throw new TypeError(`${policy.source}: connection "${name}" uses ${c.credentials}, but the only embedded database is embedded://demo`);
    }
  }
  ensurePrivateDir(options.stateDir);
  refuseLoopbackKeysOfOthers(policy, issuer);
  const key = await loadOrCreateDevKey(options.stateDir);

  const usesDemo = Object.values(policy.connections).some((c) => c.credentials === 'embedded://demo');
  const dbs = await startEmbeddedDatabases({ stateDir: options.stateDir, demo: usesDemo });
  const stops: (() => Promise<void>)[] = [dbs.stop];
  try {
    const runtime = await createRuntime({
      policy,
      sessionStore: { kind: 'postgres', url: dbs.sessionStoreUrl, poolSize: 5 },
      embedded: new Map([
        ...(dbs.demoUrl ? [['demo', dbs.demoUrl] as const] : []),
        ['masking-key', loadOrCreateMaskingKey(options.stateDir)] as const,
        ['approval-signing-key', loadOrCreateSigningKey(options.stateDir)] as const,
      ]),
      maskingKey: EMBEDDED_MASKING_KEY_REF,
      jwksFetch: ownJwksInProcess(key, issuer),
      // No Pub/Sub here: requests are written to this console, and posted to the webhooks in
      // GATEHOUSE_SLACK_WEBHOOK / GATEHOUSE_WEBHOOK_URL (secret references) when those are set.
      approvals: {
        store: { kind: 'postgres', url: dbs.stateStoreUrl, poolSize: 5 },
        notifier: { kind: 'local' },
        publicUrl: `http://${host}:${port}`,
        webhooks: webhooksFromEnv(process.env),
        signingKey: EMBEDDED_SIGNING_KEY_REF,
      },
    });
    stops.unshift(runtime.close);
    const checks = [
      policyCheck(policy),
      postgresSessionLogCheck(dbs.sessionStoreUrl),
      postgresReachableCheck('approvalStore', dbs.stateStoreUrl),
      ...connectionChecks(policy, runtime.target),
    ];
    let stopping = (): boolean => false;
    const server = await startLocalServer({
      host,
      port,
      logger: options.logger,
      routes: [
        { prefix: '/healthz', handler: healthHandler() },
        { prefix: '/readyz', handler: readyHandler(() => checks, () => stopping()) },
        { prefix: '/v1/approvals', handler: approvalsHandler(runtime.approvals!.desk) },
        { prefix: '/v1/', handler: queryHandler(runtime.gateway) },
      ],
      raw: [devIssuerRoutes(key, issuer)],
    });
    stopping = server.stopping;
    stops.unshift(server.close);
    const info: ServerInfo = { pid: process.pid, url: server.url, sessionStoreUrl: dbs.sessionStoreUrl, ...(dbs.demoUrl ? { demoUrl: dbs.demoUrl } : {}) };
    writeFileSync(serverInfoPath(options.stateDir), JSON.stringify(info, null, 2), { mode: 0o600 });
    return {
      url: server.url,
      issuer,
      policy,
      runtime,
      ...(dbs.demoUrl ? { demoUrl: dbs.demoUrl } : {}),
      inFlight: server.inFlight,
      async close() {
        rmSync(serverInfoPath(options.stateDir), { force: true });
        for (const stop of stops) await stop().catch(() => {});
      },
      async shutdown(graceMs) {
        // The CLI must not reach a server that no longer answers: server.json goes first.
        rmSync(serverInfoPath(options.stateDir), { force: true });
        const report = await server.shutdown(graceMs);
        const started = performance.now();
        for (const stop of stops.slice(1)) await stop().catch(() => {});
        return { ...report, closedMs: Math.round(performance.now() - started) };
      },
    };
  } catch (e) {
    for (const stop of stops) await stop().catch(() => {});
    throw e;
  }
}

/**
 * The verifier's fetch: this server's own dev issuer JWKS is answered from the key in memory, not
 * over HTTP from our port — which a graceful stop releases while requests in flight are still
 * verified: a local user who took the port then served their key as ours, and a token signed with
 * it ran a query (attack review of issue 14). Every other URL goes to the global fetch.
 */
function ownJwksInProcess(key: DevIssuerKey, ownIssuer: string): typeof fetch {
  const own = `${ownIssuer}/jwks.json`;
  const body = JSON.stringify(devJwks(key));
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== own) return fetch(input, init);
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/**
 * An issuer whose keys come over plain HTTP from a loopback port is as trustworthy as whoever
 * holds that port. This server holds its own (its dev issuer's JWKS); any other — the shipped
 * policy's http://127.0.0.1:8080/dev under `--port 9090`, `localhost` (which may be ::1, where we
 * do not listen) — any local user could serve, signing tokens for anyone (attack review of issue
 * 14). Refused at start, before any key is made.
 */
function refuseLoopbackKeysOfOthers(policy: Policy, ownIssuer: string): void {
  const own = `${ownIssuer}/jwks.json`;
  policy.issuers.forEach((i, n) => {
    if (i.jwksUri === undefined || i.jwksUri === own) return;
    let url: URL;
    try {
      url = new URL(i.jwksUri);
    } catch {
      return; // the verifier refuses it
    }
    if (url.protocol !== 'http:') return;
    throw new TypeError(
      `${policy.source}: issuers[${n}] (${i.issuer}) fetches its keys over plain HTTP from ${url.host}, which this server does not serve ` +
        `(it serves ${own}): anyone on this machine could serve keys there and sign tokens for anyone. ` +
        `Trust this server's own dev issuer (${ownIssuer}, or start with the port the policy names) or fetch the keys over https.`,
    );
  });
}

export function serverInfoPath(stateDir: string): string {
  return join(stateDir, 'server.json');
}

/** The running server for this state dir, if there is one (its pid is alive). */
export function runningServer(stateDir: string): ServerInfo | undefined {
  let text: string;
  try {
    // server.json names the sockets the CLI connects to: one planted by someone else (or a link)
    // would point the CLI at their server. Refused, not ignored (readPrivateFile).
    text = readPrivateFile(serverInfoPath(stateDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let info: ServerInfo;
  try {
    info = JSON.parse(text) as ServerInfo;
  } catch {
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}
