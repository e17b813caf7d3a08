// Environment → adapters: the one place that chooses which SessionLog, SecretSource, target
// database, ApprovalStore and ApprovalNotifier the gateway gets. Everything is checked here, once, at start-up; a mistake stops the
// process with a message instead of failing the first request.
import { createResultBudget, resultBudgetFromEnv, type ResultBudgetOptions } from './postgres/result-budget.ts';
import { GatehouseError } from './errors.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { createVerifier } from './identity/index.ts';
import { loadPolicy } from './policy/index.ts';
import type { Policy } from './policy/types.ts';
import type { Principal } from './identity/principal.ts';
import { loadParser } from './sql/index.ts';
import { createCatalogReader, createTargetDatabase } from './postgres/index.ts';
import { createMasker } from './masking/index.ts';
import { createViewLineageAnalyzer } from './masking/view-lineage.ts';
import { createSecretSource } from './adapters/secrets/index.ts';
import { createPostgresApprovalStore, createPostgresSessionLog } from './adapters/postgres-store/index.ts';
// Our own small files only: the Firestore client library itself loads on the log's first use.
import { createFirestoreApprovalStore, createFirestoreSessionLog } from './adapters/firestore/index.ts';
import { createPubSubNotifier } from './adapters/pubsub/index.ts';
import { createLocalNotifier } from './adapters/local-notifier/index.ts';
import { webhookChannels } from './adapters/webhooks/index.ts';
import { createApprovalWorkflow, type ApprovalWorkflow } from './approvals/steps.ts';
import { startRepublisher, type Republisher } from './approvals/publish.ts';
import { deliverApprovalNotice, type DeliveryDeps } from './approvals/delivery.ts';
import { reviewUrlFor } from './approvals/message.ts';
import { createReviewDesk, type ReviewDesk } from './approvals/review.ts';
import type { ApprovalNotifier, ApprovalStore, SecretSource, SessionLog, TargetDatabase, TransparentSessionLog } from './ports.ts';
import { createVoteSigner, parseKmsRef } from './adapters/vote-signing/index.ts';
import { deriveApprovalDigestKey } from './approvals/digest.ts';
import { startReconciler, type Reconciler, type ReconcilerOptions } from './reconcile/runner.ts';

export type SessionStoreConfig =
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number; readonly statementTimeoutMs?: number }
  /** The create-only Firestore database of its own (docs/design.md#the-session-log-is-create-only). */
  | { readonly kind: 'firestore'; readonly projectId: string; readonly databaseId: string };

export type ApprovalStoreConfig =
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number }
  /** Mutable state, in a Firestore database apart from the audit one (docs/design.md#the-session-log-is-create-only). */
  | { readonly kind: 'firestore'; readonly projectId: string; readonly databaseId: string };

export type NotifierConfig =
  | {
      readonly kind: 'pubsub';
      /** `projects/P/topics/T` */
      readonly topic: string;
      /** `host:port` of an emulator; default Google's endpoint (or PUBSUB_EMULATOR_HOST). */
      readonly apiEndpoint?: string;
      readonly maxAttempts?: number;
      readonly attemptTimeoutMs?: number;
    }
  /** Embedded mode: the console, plus the webhooks (if any) posted from this process. */
  | { readonly kind: 'local'; readonly log?: (line: string) => void }
  /** An adapter built elsewhere (tests). */
  | { readonly kind: 'custom'; readonly notifier: ApprovalNotifier };

/** SecretSource references (`secret://…`, `env://…`) to the URLs people are told at. */
export interface WebhookConfig {
  readonly slack?: string;
  readonly webhook?: string;
}

export interface ApprovalsConfig {
  readonly store: ApprovalStoreConfig;
  readonly notifier: NotifierConfig;
  /** Where people reach the approvals API; review links are `<publicUrl>/v1/approvals/ID`. */
  readonly publicUrl: string;
  readonly webhooks?: WebhookConfig;
  /** How often pending notifications are published again; 0: only once, at start. Default 15 s. */
  readonly republishIntervalMs?: number;
  readonly backoffMs?: (attempts: number) => number;
  readonly log?: (message: string) => void;
  /**
   * The approval desk's vote-signing key (issue 14): `kms://projects/…/cryptoKeyVersions/N`, or a
   * SecretSource reference (`embedded://approval-signing-key`, `env://…`, `secret://…`) holding a
   * PKCS#8 PEM EC P-256 private key. Required: an unsigned vote is never believed.
   */
  readonly signingKey: string;
  /** KeyManagementServiceClient options (tests point it at a local gRPC server). */
  readonly kmsClientOptions?: Record<string, unknown>;
}

export interface RuntimeConfig {
  /** A path to the policy file, or a policy already loaded from one. */
  readonly policy: string | Policy;
  readonly sessionStore: SessionStoreConfig;
  /** `embedded://NAME` → URL, registered by the embedded demo database. */
  readonly embedded?: ReadonlyMap<string, string>;
  readonly env?: NodeJS.ProcessEnv;
  readonly targetPoolSize?: number;
  /**
   * SecretSource reference (`env://…`, `secret://…`, `embedded://masking-key`) to the masking key:
   * base64 of at least 16 random bytes. It keys the `hash` pseudonyms and the raw-result digest,
   * so it never lives in the policy file.
   */
  readonly maskingKey: string;
  /** Without it, rules with `action: approve` deny (nobody could approve). */
  readonly approvals?: ApprovalsConfig;
  /** For approvals' expiry (tests inject one). */
  readonly clock?: () => Date;
  /** Closing abandoned sessions (docs/outcomes.md): a start-up pass, then a timer. */
  readonly reconcile?: ReconcilerOptions & { readonly graceMs?: number };
  /** Bounds on waiting for a busy target pool (pool_exhausted beyond them). */
  readonly targetMaxQueue?: number;
  readonly targetQueueTimeoutMs?: number;
  /** Result bytes in flight, process-wide; over GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES from `env`. */
  readonly resultBudget?: ResultBudgetOptions;
  /**
   * How issuers' JWKS are fetched; default the global fetch. Embedded mode answers its own dev
   * issuer's in process, so its keys never depend on who holds the port (infra/embedded.ts).
   */
  readonly jwksFetch?: typeof fetch;
}

export interface Runtime {
  readonly policy: Policy;
  readonly gateway: Gateway;
  readonly sessions: SessionLog;
  readonly target: TargetDatabase;
  readonly reconciler: Reconciler;
  readonly approvals?: {
    readonly store: ApprovalStore;
    readonly workflow: ApprovalWorkflow;
    readonly desk: ReviewDesk;
    readonly republisher: Republisher;
  };
  close(): Promise<void>;
}

/** The deployed shape reads its settings from the environment (documented in the README). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const policyPath = env.GATEHOUSE_POLICY ?? 'gatehouse.policy.yaml';
  const sessionStore = sessionStoreFromEnv(env);
  const storeUrl = sessionStore.kind === 'postgres' ? sessionStore.url : undefined;
  const maskingKey = env.GATEHOUSE_MASKING_KEY;
  if (!maskingKey) throw new TypeError('GATEHOUSE_MASKING_KEY is not set (a secret reference, e.g. secret://projects/P/secrets/gatehouse-masking-key/versions/latest)');
  // Cloud Functions give an instance CPU only while it answers: no timer, and no look back on
  // every cold start. The scheduled POST /v1/approvals/republish runs the passes instead.
  const reconcile = { intervalMs: 0, startupLookbackMs: 0 };
  return { policy: policyPath, sessionStore, env, maskingKey, approvals: approvalsFromEnv(env, storeUrl), reconcile };
}

/**
 * GATEHOUSE_SESSION_STORE: a postgres:// URL, or `firestore` with GATEHOUSE_FIRESTORE_PROJECT and
 * GATEHOUSE_AUDIT_DATABASE (default `gatehouse-audit`).
 */
export function sessionStoreFromEnv(env: NodeJS.ProcessEnv): SessionStoreConfig {
  const store = env.GATEHOUSE_SESSION_STORE;
  if (!store) throw new TypeError('GATEHOUSE_SESSION_STORE is not set (a postgres:// URL, or "firestore")');
  if (store === 'firestore') {
    const projectId = env.GATEHOUSE_FIRESTORE_PROJECT;
    if (!projectId) throw new TypeError('GATEHOUSE_FIRESTORE_PROJECT is required with GATEHOUSE_SESSION_STORE=firestore');
    return { kind: 'firestore', projectId, databaseId: env.GATEHOUSE_AUDIT_DATABASE || 'gatehouse-audit' };
  }
  if (!/^postgres(ql)?:\/\//.test(store)) {
    throw new TypeError('GATEHOUSE_SESSION_STORE must be a postgres:// URL or "firestore"');
  }
  return { kind: 'postgres', url: store };
}

/**
 * GATEHOUSE_APPROVAL_STORE (postgres://; default the session store's database — give it a role
 * of its own there, or better a database of its own: docs/design.md#the-session-log-is-create-only; or `firestore`, with
 * GATEHOUSE_FIRESTORE_PROJECT and GATEHOUSE_STATE_DATABASE, default `gatehouse-state`), GATEHOUSE_PUBSUB_TOPIC
 * (`projects/P/topics/T`; unset = log to the console), GATEHOUSE_PUBLIC_URL (review links;
 * required with a topic), GATEHOUSE_SLACK_WEBHOOK / GATEHOUSE_WEBHOOK_URL (secret references).
 */
export function approvalsFromEnv(env: NodeJS.ProcessEnv, sessionStoreUrl?: string): ApprovalsConfig {
  const url = env.GATEHOUSE_APPROVAL_STORE ?? sessionStoreUrl;
  const store = approvalStoreFromEnv(env, url);
  const topic = env.GATEHOUSE_PUBSUB_TOPIC;
  const publicUrl = env.GATEHOUSE_PUBLIC_URL;
  if (topic && !publicUrl) throw new TypeError('GATEHOUSE_PUBLIC_URL is required with GATEHOUSE_PUBSUB_TOPIC (review links name it)');
  if (publicUrl && !/^https?:\/\/[^\s]+$/.test(publicUrl)) throw new TypeError('GATEHOUSE_PUBLIC_URL must be an http(s):// URL');
  const signingKey = env.GATEHOUSE_APPROVAL_SIGNING_KEY;
  if (!signingKey) {
    throw new TypeError('GATEHOUSE_APPROVAL_SIGNING_KEY is not set (kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N, or a secret reference to a PEM EC P-256 key)');
  }
  parseKmsRef(signingKey); // a malformed kms:// reference stops the start
  return {
    signingKey,
    store,
    notifier: topic ? { kind: 'pubsub', topic } : { kind: 'local' },
    publicUrl: publicUrl ?? 'http://127.0.0.1:8080',
    webhooks: webhooksFromEnv(env),
  };
}

function approvalStoreFromEnv(env: NodeJS.ProcessEnv, url: string | undefined): ApprovalStoreConfig {
  if (url === 'firestore') {
    const projectId = env.GATEHOUSE_FIRESTORE_PROJECT;
    if (!projectId) throw new TypeError('GATEHOUSE_FIRESTORE_PROJECT is required with GATEHOUSE_APPROVAL_STORE=firestore');
    return { kind: 'firestore', projectId, databaseId: env.GATEHOUSE_STATE_DATABASE || 'gatehouse-state' };
  }
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new TypeError('GATEHOUSE_APPROVAL_STORE must be a postgres:// URL or "firestore"');
  return { kind: 'postgres', url };
}

export function webhooksFromEnv(env: NodeJS.ProcessEnv): WebhookConfig {
  return {
    ...(env.GATEHOUSE_SLACK_WEBHOOK ? { slack: env.GATEHOUSE_SLACK_WEBHOOK } : {}),
    ...(env.GATEHOUSE_WEBHOOK_URL ? { webhook: env.GATEHOUSE_WEBHOOK_URL } : {}),
  };
}

export async function createRuntime(config: RuntimeConfig): Promise<Runtime> {
  const policy = typeof config.policy === 'string' ? await loadPolicy(config.policy) : config.policy;
  await loadParser();
  // Before anything is opened: a malformed bound refuses to start without leaving connections behind.
  const resultBudget = createResultBudget({ ...resultBudgetFromEnv(config.env ?? process.env), ...config.resultBudget });
  const secrets = createSecretSource({ env: config.env ?? process.env, embedded: config.embedded ?? new Map() });
  // A credentials reference that cannot work is a start-up error, not a failure on first request.
  for (const c of Object.values(policy.connections)) secrets.check(c.credentials);
  const sessions = await openSessionLog(config.sessionStore);
  const verifyToken = createVerifier({ issuers: policy.issuers, groups: policy.groups, ...(config.jwksFetch ? { fetch: config.jwksFetch } : {}) });
  secrets.check(config.maskingKey);
  const catalog = createCatalogReader({ connections: policy.connections, secrets, views: createViewLineageAnalyzer() });
  const masker = createMasker({ config: policy.masking, catalog, hashKey: () => maskingKey(secrets, config.maskingKey) });
  let approvals: Runtime['approvals'];
  try {
    approvals =
      config.approvals &&
      (await openApprovals(config.approvals, {
        secrets,
        sessions,
        verifyToken,
        clock: config.clock,
        maskingPreview: (sql) => masker.preview(sql),
        policySha256: policy.sha256,
        digestKey: digestKeyFrom(() => maskingKey(secrets, config.maskingKey)),
      }));
  } catch (e) {
    await Promise.allSettled([sessions.close(), catalog.close(), secrets.close()]);
    throw e;
  }
  const target = createTargetDatabase({
    connections: policy.connections,
    secrets,
    poolSize: config.targetPoolSize,
    maxQueue: config.targetMaxQueue,
    queueTimeoutMs: config.targetQueueTimeoutMs,
  });
  const gateway = createGateway({ policy, verifyToken, sessions, target, approvals: approvals?.workflow, masker, catalog, resultBudget });
  const reconciler = startReconciler(
    { sessions, target, inFlight: gateway.inFlight, reconciledBy: `gateway ${gateway.instanceId}`, graceMs: config.reconcile?.graceMs },
    config.reconcile,
  );
  return {
    policy,
    gateway,
    sessions,
    target,
    reconciler,
    approvals,
    async close() {
      // The republisher and the reconciler first: their passes may still be writing to the store.
      await Promise.allSettled([approvals?.republisher.stop(), reconciler.stop()]);
      await Promise.allSettled([target.close(), catalog.close(), sessions.close(), secrets.close(), approvals?.workflow.notifier.close(), approvals?.store.close()]);
    },
  };
}

async function maskingKey(secrets: SecretSource, ref: string): Promise<Uint8Array> {
  const key = Buffer.from((await secrets.resolve(ref)).trim(), 'base64');
  if (key.length < 16) throw new GatehouseError('secret_unavailable', 'the masking key must be base64 of at least 16 bytes');
  return key;
}

/** The approvals' statement-digest key, derived from the masking key; a failed read is retried (digest.ts). */
function digestKeyFrom(master: () => Promise<Uint8Array>): () => Promise<Uint8Array> {
  let derived: Promise<Uint8Array> | undefined;
  return () =>
    (derived ??= master()
      .then(deriveApprovalDigestKey)
      .catch((e: unknown) => {
        derived = undefined;
        throw e;
      }));
}

interface ApprovalsContext {
  readonly secrets: ReturnType<typeof createSecretSource>;
  readonly sessions: SessionLog;
  readonly verifyToken: (token: string) => Promise<Principal>;
  readonly clock?: () => Date;
  readonly maskingPreview: (sql: string) => readonly unknown[];
  readonly policySha256: string;
  readonly digestKey: () => Promise<Uint8Array>;
}

async function openApprovals(config: ApprovalsConfig, ctx: ApprovalsContext): Promise<NonNullable<Runtime['approvals']>> {
  if (!/^https?:\/\//.test(config.publicUrl ?? '')) throw new TypeError('approvals: publicUrl must be an http(s):// URL');
  const clock = ctx.clock ?? (() => new Date());
  for (const ref of [config.webhooks?.slack, config.webhooks?.webhook]) if (ref) ctx.secrets.check(ref);
  if (typeof config.signingKey !== 'string' || config.signingKey === '') throw new TypeError('approvals: signingKey is required (the approval desk signs every vote)');
  if (parseKmsRef(config.signingKey) === undefined) ctx.secrets.check(config.signingKey);
  const signer = createVoteSigner(config.signingKey, ctx.secrets, config.kmsClientOptions);
  const store = await openApprovalStore(config.store);
  let notifier: ApprovalNotifier;
  try {
    notifier = openNotifier(config, { store, secrets: ctx.secrets, clock });
  } catch (e) {
    await store.close();
    throw e;
  }
  const workflow = createApprovalWorkflow({
    store,
    notifier,
    clock,
    reviewUrl: (id) => reviewUrlFor(config.publicUrl, id),
    backoffMs: config.backoffMs,
    log: config.log,
    sessions: ctx.sessions,
    signer,
    digestKey: ctx.digestKey,
  });
  // A pass now (what an earlier process could not publish), then every 15 s by default.
  const republisher = startRepublisher(workflow, config.republishIntervalMs ?? 15_000);
  const desk = createReviewDesk({
    verifyToken: ctx.verifyToken,
    store,
    sessions: ctx.sessions,
    clock,
    maskingPreview: ctx.maskingPreview,
    republish: () => republisher.runOnce(),
    signer,
    policySha256: ctx.policySha256,
    digestKey: ctx.digestKey,
  });
  return { store, workflow, desk, republisher };
}

function openNotifier(config: ApprovalsConfig, ctx: { store: ApprovalStore; secrets: SecretSource; clock: () => Date }): ApprovalNotifier {
  const n = config.notifier;
  switch (n.kind) {
    case 'pubsub':
      return createPubSubNotifier({ topic: n.topic, apiEndpoint: n.apiEndpoint, maxAttempts: n.maxAttempts, attemptTimeoutMs: n.attemptTimeoutMs });
    case 'local': {
      const channels = webhookChannels({ secrets: ctx.secrets, ...config.webhooks });
      const deliver: DeliveryDeps = { store: ctx.store, channels, clock: ctx.clock };
      return createLocalNotifier({
        log: n.log,
        ...(channels.length > 0 ? { deliver: (notice, messageId) => deliverApprovalNotice(deliver, notice, messageId) } : {}),
      });
    }
    case 'custom':
      return n.notifier;
  }
}

export async function openApprovalStore(store: ApprovalStoreConfig): Promise<ApprovalStore> {
  switch (store.kind) {
    case 'postgres':
      return createPostgresApprovalStore({ connectionString: store.url, poolSize: store.poolSize });
    case 'firestore':
      return createFirestoreApprovalStore({ projectId: store.projectId, databaseId: store.databaseId });
  }
}

// --- the notify function (functions/notify.ts): only the store and the channels ---------------

export interface NotifyConfig {
  readonly store: ApprovalStoreConfig;
  readonly webhooks: WebhookConfig;
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: () => Date;
}

export function notifyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): NotifyConfig {
  // As in configFromEnv: only a PostgreSQL session store doubles as the default approval store.
  const sessionStore = env.GATEHOUSE_SESSION_STORE === 'firestore' ? undefined : env.GATEHOUSE_SESSION_STORE;
  const store = approvalStoreFromEnv(env, env.GATEHOUSE_APPROVAL_STORE ?? sessionStore);
  const webhooks = webhooksFromEnv(env);
  if (!webhooks.slack && !webhooks.webhook) throw new TypeError('set GATEHOUSE_SLACK_WEBHOOK and/or GATEHOUSE_WEBHOOK_URL (secret references)');
  return { store, webhooks, env };
}

export async function createNotifyRuntime(config: NotifyConfig): Promise<{ readonly delivery: DeliveryDeps; close(): Promise<void> }> {
  const secrets = createSecretSource({ env: config.env ?? process.env });
  for (const ref of [config.webhooks.slack, config.webhooks.webhook]) if (ref) secrets.check(ref);
  const store = await openApprovalStore(config.store);
  const channels = webhookChannels({ secrets, ...config.webhooks });
  return {
    delivery: { store, channels, clock: config.clock ?? (() => new Date()) },
    async close() {
      await Promise.allSettled([store.close(), secrets.close()]);
    },
  };
}

export async function openSessionLog(store: SessionStoreConfig): Promise<TransparentSessionLog> {
  switch (store.kind) {
    case 'postgres':
      return createPostgresSessionLog({ connectionString: store.url, poolSize: store.poolSize, statementTimeoutMs: store.statementTimeoutMs });
    case 'firestore':
      return createFirestoreSessionLog({ projectId: store.projectId, databaseId: store.databaseId });
  }
}
