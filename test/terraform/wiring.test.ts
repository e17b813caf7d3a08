// Terraform, configuration and policy agree: what the module tells each function is what
// shared/config.ts accepts for the Firestore shape, and the example policy names the secrets and
// the audience the example deployment creates. Each would otherwise fail only on GCP, at the first
// request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { configFromEnv, notifyConfigFromEnv } from '../../shared/config.ts';
import { createSecretSource } from '../../shared/adapters/secrets/index.ts';
import { loadPolicy } from '../../shared/policy/index.ts';
import { parseHcl } from '../../scripts/terraform-check/model.ts';
import { EXAMPLE, loadReal, MODULE, ROOT } from './fixtures.ts';

type Env = Record<string, string>;

/** The example deployment's values (terraform.tfvars.example, with the module's defaults). */
async function exampleVars(): Promise<{ project: string; region: string; prefix: string; connections: string[]; channels: string[] }> {
  const tfvars = (await parseHcl('terraform.tfvars', readFileSync(join(ROOT, EXAMPLE, 'terraform.tfvars.example'), 'utf8'))) as Record<string, unknown>;
  return {
    project: tfvars.project_id as string,
    region: tfvars.region as string,
    prefix: 'gatehouse',
    connections: Object.keys(tfvars.connections as object),
    channels: tfvars.notify_channels as string[],
  };
}

/**
 * A function's environment with its interpolations filled in for the example deployment. Only the
 * references the module uses today are known; a new one fails here until it is added, on purpose.
 */
function evaluate(env: Record<string, unknown>, v: Awaited<ReturnType<typeof exampleVars>>): Env {
  const known: Record<string, string> = {
    'var.project_id': v.project,
    'google_firestore_database.audit.name': `${v.prefix}-audit`,
    'google_firestore_database.state.name': `${v.prefix}-state`,
    'google_pubsub_topic.approvals.id': `projects/${v.project}/topics/${v.prefix}-approvals`,
    'local.approvals_url': `https://${v.region}-${v.project}.cloudfunctions.net/${v.prefix}-approvals`,
    'local.secret_ref': `secret://projects/${v.project}/secrets`,
    'google_secret_manager_secret.masking_key.secret_id': `${v.prefix}-masking-key`,
    'local.notify_secret_ids.slack': `${v.prefix}-slack-webhook`,
    'local.notify_secret_ids.webhook': `${v.prefix}-webhook-url`,
    'local.approval_signing_key_version': `projects/${v.project}/locations/${v.region}/keyRings/${v.prefix}/cryptoKeys/${v.prefix}-approval-votes/cryptoKeyVersions/1`,
  };
  const fill = (s: string): string =>
    s.replace(/\$\{([^${}]+)\}/g, (_, expr: string) => {
      const value = known[expr.trim()];
      if (value === undefined) throw new Error(`unknown reference ${expr} (add it to this test)`);
      return value;
    });
  const out: Env = {};
  for (const [key, raw] of Object.entries(env)) {
    if (typeof raw !== 'string') throw new Error(`${key}: not a string`);
    const channel = /^\$\{contains\(var\.notify_channels, "(\w+)"\) \? "(.*)" : null\}$/s.exec(raw);
    if (channel) {
      if (v.channels.includes(channel[1]!)) out[key] = fill(channel[2]!.replace(/\\"/g, '"'));
      continue;
    }
    out[key] = fill(raw);
  }
  return out;
}

async function environments() {
  const model = await loadReal();
  const v = await exampleVars();
  return { v, gateway: evaluate(model.locals.gateway_env as Record<string, unknown>, v), notify: evaluate(model.locals.notify_env as Record<string, unknown>, v) };
}

test('every variable the module sets is one shared/config.ts reads', async (t) => {
  const config = readFileSync(join(ROOT, 'shared/config.ts'), 'utf8');
  const read = new Set([...config.matchAll(/env\.(GATEHOUSE_[A-Z_]+)/g)].map((m) => m[1]!));
  const { gateway, notify } = await environments();
  const unknown = [...Object.keys(gateway), ...Object.keys(notify)].filter((k) => k !== 'NODE_ENV' && !read.has(k));
  t.deepEqual(unknown, []);
  t.is(gateway.NODE_ENV, 'production');
  t.is(notify.NODE_ENV, 'production');
});

test('the query and approvals functions get a Firestore configuration config.ts accepts', async (t) => {
  const { v, gateway } = await environments();
  const config = configFromEnv(gateway);
  t.deepEqual(config.sessionStore, { kind: 'firestore', projectId: v.project, databaseId: 'gatehouse-audit' });
  t.deepEqual(config.approvals?.store, { kind: 'firestore', projectId: v.project, databaseId: 'gatehouse-state' });
  t.deepEqual(config.approvals?.notifier, { kind: 'pubsub', topic: `projects/${v.project}/topics/gatehouse-approvals` });
  t.is(config.approvals?.publicUrl, `https://${v.region}-${v.project}.cloudfunctions.net/gatehouse-approvals`);
  t.is(config.policy, 'gatehouse.policy.yaml');
  t.notThrows(() => createSecretSource({ env: {} }).check(config.maskingKey));
  // The gateway is never told where the webhooks are: it cannot read those secrets anyway.
  t.deepEqual(config.approvals?.webhooks, {});
});

test('the notify function gets only the state database and the webhook secrets', async (t) => {
  const { v, notify } = await environments();
  const config = notifyConfigFromEnv(notify);
  t.deepEqual(config.store, { kind: 'firestore', projectId: v.project, databaseId: 'gatehouse-state' });
  t.deepEqual(config.webhooks, { slack: `secret://projects/${v.project}/secrets/gatehouse-slack-webhook/versions/latest` });
  t.false('GATEHOUSE_SESSION_STORE' in notify || 'GATEHOUSE_MASKING_KEY' in notify || 'GATEHOUSE_AUDIT_DATABASE' in notify);
});

test('the example policy loads, and names the secrets and the audience the example deployment creates', async (t) => {
  const { v } = await environments();
  const policy = await loadPolicy(join(ROOT, EXAMPLE, 'policy.yaml'));
  t.deepEqual(Object.keys(policy.connections).sort(), [...v.connections].sort());
  for (const name of v.connections) {
    t.is(policy.connections[name]!.credentials, `secret://projects/${v.project}/secrets/gatehouse-db-${name}/versions/latest`);
  }
  const google = policy.issuers.find((i) => i.issuer === 'https://accounts.google.com');
  const audiences = [google?.audience].flat();
  // Bots' tokens are for the query URL; the republish scheduler's for the approvals URL.
  for (const fn of ['query', 'approvals']) {
    t.true(audiences.includes(`https://${v.region}-${v.project}.cloudfunctions.net/gatehouse-${fn}`), `${fn}: ${JSON.stringify(audiences)}`);
  }
  t.false(policy.issuers.some((i) => i.issuer.startsWith('http://')), 'no dev issuer in the deployed policy');
});

test('the module folder holds only Terraform and no secret-looking value', async (t) => {
  const model = await loadReal();
  t.true(model.files.every((f) => f.file.startsWith(MODULE) || f.file.startsWith(EXAMPLE)));
  // A postgres URL with a password, a PEM block or a Slack hook URL would be a secret in code.
  const text = model.files.map((f) => JSON.stringify(f.json)).join('\n');
  t.notRegex(text, /postgres(ql)?:\/\/[^\s"@/]+:[^\s"@/]+@|BEGIN [A-Z ]*PRIVATE KEY|hooks\.slack\.com\/services\//);
});

test('the scheduled republish calls a route the approvals function serves, with a token for its URL', async (t) => {
  const model = await loadReal();
  const job = model.blocks.find((b) => b.type === 'google_cloud_scheduler_job' && b.name === 'approvals_republish');
  const target = (job?.body.http_target as Record<string, unknown>[] | undefined)?.[0];
  t.is(target?.uri, '${local.approvals_url}/v1/approvals/republish');
  t.is(target?.http_method, 'POST');
  t.is((target?.oidc_token as Record<string, unknown>[])[0]?.audience, '${local.approvals_url}');
  t.true(readFileSync(join(ROOT, 'functions/approvals.ts'), 'utf8').includes("req.path === '/v1/approvals/republish'"));
});
