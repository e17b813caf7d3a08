// Environment → adapters: the one place that chooses which SessionLog, SecretSource and target
// database the gateway gets. Everything is checked here, once, at start-up; a mistake stops the
// process with a message instead of failing the first request.
import { createGateway, type Gateway } from './gateway.ts';
import { createVerifier } from './identity/index.ts';
import { loadPolicy } from './policy/index.ts';
import type { Policy } from './policy/types.ts';
import { loadParser } from './sql/index.ts';
import { createTargetDatabase } from './execute/index.ts';
import { createSecretSource } from './adapters/secrets/index.ts';
import { createPostgresSessionLog } from './adapters/postgres-store/index.ts';
import type { SessionLog, TargetDatabase } from './ports.ts';

export type SessionStoreConfig =
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number };

export interface RuntimeConfig {
  /** A path to the policy file, or a policy already loaded from one. */
  readonly policy: string | Policy;
  readonly sessionStore: SessionStoreConfig;
  /** `embedded://NAME` → URL, registered by the embedded demo database. */
  readonly embedded?: ReadonlyMap<string, string>;
  readonly env?: NodeJS.ProcessEnv;
  readonly targetPoolSize?: number;
}

export interface Runtime {
  readonly policy: Policy;
  readonly gateway: Gateway;
  readonly sessions: SessionLog;
  readonly target: TargetDatabase;
  close(): Promise<void>;
}

/** The deployed shape reads its settings from the environment (documented in the README). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const policyPath = env.GATEHOUSE_POLICY ?? 'gatehouse.policy.yaml';
  const store = env.GATEHOUSE_SESSION_STORE;
  if (!store) throw new TypeError('GATEHOUSE_SESSION_STORE is not set (a postgres:// URL)');
  if (!/^postgres(ql)?:\/\//.test(store)) {
    throw new TypeError('GATEHOUSE_SESSION_STORE must be a postgres:// URL');
  }
  return { policy: policyPath, sessionStore: { kind: 'postgres', url: store }, env };
}

export async function createRuntime(config: RuntimeConfig): Promise<Runtime> {
  const policy = typeof config.policy === 'string' ? await loadPolicy(config.policy) : config.policy;
  await loadParser();
  const secrets = createSecretSource({ env: config.env ?? process.env, embedded: config.embedded ?? new Map() });
  // A credentials reference that cannot work is a start-up error, not a failure on first request.
  for (const c of Object.values(policy.connections)) secrets.check(c.credentials);
  const sessions = await openSessionLog(config.sessionStore);
  const target = createTargetDatabase({ connections: policy.connections, secrets, poolSize: config.targetPoolSize });
  const gateway = createGateway({
    policy,
    verifyToken: createVerifier({ issuers: policy.issuers, groups: policy.groups }),
    sessions,
    target,
  });
  return {
    policy,
    gateway,
    sessions,
    target,
    async close() {
      await Promise.allSettled([target.close(), sessions.close(), secrets.close()]);
    },
  };
}

export async function openSessionLog(store: SessionStoreConfig): Promise<SessionLog> {
  switch (store.kind) {
    case 'postgres':
      return createPostgresSessionLog({ connectionString: store.url, poolSize: store.poolSize });
  }
}
