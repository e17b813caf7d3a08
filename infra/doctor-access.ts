// How `gatehouse doctor` and `gatehouse start` reach the connections' credentials: the same
// SecretSource the gateway uses (env://, secret://), plus the embedded demo database — through
// the running `gatehouse start` (PGlite lets one process open a data directory) or, when none
// runs, by opening the existing demo data directory here.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSecretSource } from '../shared/adapters/secrets/index.ts';
import { runDoctor, summaryLine } from '../shared/doctor/index.ts';
import type { Policy } from '../shared/policy/types.ts';
import type { SecretSource } from '../shared/ports.ts';
import { startDemoDatabase } from './demo-db/index.ts';
import { runningServer, type Embedded } from './embedded.ts';

export interface DoctorAccess {
  readonly secrets: SecretSource;
  /** Why a connection may be unreachable (said on stderr, not in the report). */
  readonly notes: readonly string[];
  close(): Promise<void>;
}

export async function openDoctorAccess(policy: Pick<Policy, 'connections'>, stateDir: string, only?: string): Promise<DoctorAccess> {
  const names = only !== undefined ? [only] : Object.keys(policy.connections);
  const usesDemo = names.some((n) => Object.hasOwn(policy.connections, n) && policy.connections[n]!.credentials === 'embedded://demo');
  const embedded = new Map<string, string>();
  const notes: string[] = [];
  let stopDemo: (() => Promise<void>) | undefined;
  if (usesDemo) {
    const running = runningServer(stateDir);
    if (running?.demoUrl) {
      embedded.set('demo', running.demoUrl);
    } else if (!running && existsSync(join(stateDir, 'demo-db'))) {
      // On its socket in the state dir, as `gatehouse start` serves it: over TCP, anyone on the
      // machine could write the demo database while the doctor looks at it (attack review of issue 14).
      const demo = await startDemoDatabase(stateDir, { socketDir: join(resolve(stateDir), 'sockets', 'demo-db') });
      embedded.set('demo', demo.url);
      stopDemo = demo.stop;
    } else {
      notes.push(`no embedded demo database reachable in ${stateDir} (run \`gatehouse start\` there first)`);
    }
  }
  const secrets = createSecretSource({ env: process.env, embedded });
  return {
    secrets,
    notes,
    async close() {
      await secrets.close();
      await stopDemo?.();
    },
  };
}

/**
 * One line per connection for `gatehouse start`. Bounded by `timeoutMs` per connection (they run
 * in parallel) and never throws: start goes on whatever the doctor finds. On the embedded demo
 * (PGlite, a superuser by construction) failures are expected and said to be.
 */
export async function startupDoctorLines(g: Pick<Embedded, 'policy' | 'demoUrl'>, timeoutMs = 3000): Promise<string[]> {
  const secrets = createSecretSource({ env: process.env, embedded: new Map(g.demoUrl ? [['demo', g.demoUrl]] : []) });
  try {
    const report = await runDoctor({ connections: g.policy.connections, secrets, timeoutMs });
    return report.connections.map((c) => {
      const demo = g.policy.connections[c.connection]?.credentials === 'embedded://demo';
      const line = summaryLine(c);
      if (c.ok) return line;
      return demo ? `${line} (expected of the embedded demo: warnings only)` : `WARNING ${line}`;
    });
  } catch {
    return ['the least-privilege check could not run; try npx gatehouse doctor'];
  } finally {
    await secrets.close().catch(() => {});
  }
}
