// What the deployment must never grant, and what it must always have, checked on the parsed
// Terraform (issue 7). Each rule returns findings with a stable code; no finding is a pass.
import { conditionOf, customRoleOf, grantedPermissions, isIamGrant, isProjectLevel, membersOf, permissionsOf } from './iam.ts';
import { nested, soleExpression, strings, type Block, type TerraformModel } from './model.ts';

export type FindingCode =
  | 'primitive_role'
  | 'public_member'
  | 'service_account_key'
  | 'secret_value_in_code'
  | 'role_not_literal'
  | 'audit_role_permissions'
  | 'unscoped_datastore_role'
  | 'secret_accessor_unscoped'
  | 'invoker_mismatch'
  | 'invoker_project_wide'
  | 'invoker_target_unknown'
  | 'firestore_protection'
  | 'retention_unlocked'
  | 'audit_export_missing'
  | 'dead_letter_missing'
  | 'vote_key_scope'
  | 'checkpoint_key_scope'
  | 'checkpoint_signer_missing'
  | 'undocumented';

export interface Finding {
  readonly code: FindingCode;
  /** `file: type.name` */
  readonly where: string;
  readonly message: string;
}

/** Who may invoke each function: exactly these, as written in the Terraform. */
export const INTENDED_INVOKERS: Readonly<Record<string, readonly string[]>> = {
  query: ['var.bot_members'],
  approvals: ['var.approver_members', 'google_service_account.republisher.member'],
  notify: ['google_service_account.notifier.member'],
  checkpoint: ['google_service_account.checkpoint_scheduler.member'],
};

/** Where the gateway appends the session log; its role there must be exactly create + read. */
const GATEWAY = 'google_service_account.gateway.member';
const AUDIT_DB_REFERENCES = ['local.audit_database}', 'google_firestore_database.audit.'];
const AUDIT_REQUIRED = ['datastore.entities.create', 'datastore.entities.get', 'datastore.entities.list'];
/** Anything that could change or remove what is in a database. */
const DESTRUCTIVE = /^datastore\.(entities\.(update|delete)|databases\.(import|bulkDelete|update|delete|restore)|\*)|\*$/;
const READ_ONLY_DATASTORE_ROLES = new Set(['roles/datastore.viewer']);
const INVOKER_ROLES = new Set(['roles/run.invoker', 'roles/cloudfunctions.invoker', 'roles/run.servicesInvoker']);
const INVOKER_PERMISSIONS = /^(run\.routes\.invoke|cloudfunctions\.functions\.invoke)$/;

export function checkTerraform(model: TerraformModel): Finding[] {
  return [
    ...primitiveRoles(model),
    ...publicMembers(model),
    ...forbiddenResources(model),
    ...roleLiterals(model),
    ...auditDatabaseRoles(model),
    ...datastoreScope(model),
    ...secretAccessors(model),
    ...invokers(model),
    ...voteKeyScope(model),
    ...checkpointSigner(model),
    ...durability(model),
    ...documentation(model),
  ];
}

const at = (b: Block): string => `${b.file}: ${b.type}.${b.name}`;
const grants = (model: TerraformModel): Block[] => model.blocks.filter(isIamGrant);

function primitiveRoles(model: TerraformModel): Finding[] {
  const found: Finding[] = [];
  for (const { file, json } of model.files) {
    for (const s of strings(json)) {
      const m = /(?<![\w.])roles\/(owner|editor|viewer)(?![\w.-])/.exec(s.value);
      if (m) found.push({ code: 'primitive_role', where: `${file}: ${s.path}`, message: `basic role ${m[0]} grants far more than any Gatehouse identity needs` });
    }
  }
  return found;
}

/** In grants, locals and variable defaults: wherever a member could come from. */
function publicMembers(model: TerraformModel): Finding[] {
  const sources = [
    ...grants(model).map((b) => ({ where: at(b), value: b.body })),
    { where: 'locals', value: model.locals },
    ...model.variables.map((v) => ({ where: `${v.file}: variable.${v.name}.default`, value: v.body.default ?? null })),
  ];
  const found: Finding[] = [];
  for (const src of sources) {
    for (const s of strings(src.value)) {
      if (/\ball(Authenticated)?Users\b/.test(s.value)) {
        found.push({ code: 'public_member', where: src.where, message: `${s.value} would open this to anyone on the internet or with any Google account` });
      }
    }
  }
  return found;
}

function forbiddenResources(model: TerraformModel): Finding[] {
  return model.blocks.flatMap((b): Finding[] => {
    if (b.type === 'google_service_account_key') {
      return [{ code: 'service_account_key', where: at(b), message: 'service account keys are long-lived credentials; Gatehouse uses none' }];
    }
    if (/^google_secret_manager_secret_version(_access)?$/.test(b.type)) {
      return [{ code: 'secret_value_in_code', where: at(b), message: 'a secret version puts the secret value in Terraform code or state; add values out of band' }];
    }
    return [];
  });
}

function roleLiterals(model: TerraformModel): Finding[] {
  return grants(model).flatMap((g): Finding[] => {
    const role = g.body.role;
    if (typeof role === 'string' && /^roles\/[A-Za-z0-9_.]+$/.test(role)) return [];
    if (customRoleOf(model, g)) return [];
    return [{ code: 'role_not_literal', where: at(g), message: `role ${JSON.stringify(role)} is neither a literal roles/… nor a custom role defined here` }];
  });
}

function auditDatabaseRoles(model: TerraformModel): Finding[] {
  const onAudit = grants(model).filter((g) => AUDIT_DB_REFERENCES.some((r) => conditionOf(model, g)?.includes(r)));
  const found: Finding[] = [];
  for (const g of onAudit) {
    const { role, permissions } = grantedPermissions(model, g);
    if (role !== undefined && !READ_ONLY_DATASTORE_ROLES.has(role)) {
      found.push({ code: 'audit_role_permissions', where: at(g), message: `${role} on the audit database may change or delete the session log` });
    }
    for (const p of permissions ?? []) {
      if (DESTRUCTIVE.test(p)) found.push({ code: 'audit_role_permissions', where: at(g), message: `${p} on the audit database would let the log be changed` });
    }
  }
  const gateway = onAudit.filter((g) => membersOf(g).includes(GATEWAY));
  if (gateway.length !== 1) {
    found.push({ code: 'audit_role_permissions', where: 'audit database', message: `expected one grant to the gateway on the audit database, found ${gateway.length}` });
  } else {
    const custom = customRoleOf(model, gateway[0]!);
    const have = custom ? permissionsOf(custom) : [];
    for (const p of AUDIT_REQUIRED) {
      if (!have.includes(p)) found.push({ code: 'audit_role_permissions', where: at(gateway[0]!), message: `the gateway's audit role lacks ${p}` });
    }
  }
  return found;
}

/** A datastore role on the project without a database condition covers the audit database too. */
function datastoreScope(model: TerraformModel): Finding[] {
  return grants(model)
    .filter(isProjectLevel)
    .filter((g) => {
      const { role, permissions } = grantedPermissions(model, g);
      return role?.startsWith('roles/datastore.') || (permissions ?? []).some((p) => p.startsWith('datastore.'));
    })
    .filter((g) => !/\/databases\//.test(conditionOf(model, g) ?? ''))
    .map((g) => ({ code: 'unscoped_datastore_role' as const, where: at(g), message: 'a Firestore role on the project needs a condition naming one database' }));
}

// Issue 14: a vote appended with the query path's rights must not be able to carry a valid
// signature, so signing with the approval desk's key is granted once — to the approvals
// function's own account, on that key — and no Cloud KMS role is granted on anything wider.
const VOTE_KEY = 'google_kms_crypto_key.approval_votes.id';
const APPROVAL_DESK = 'google_service_account.approvals.member';
const KMS_SIGNING = /^roles\/cloudkms\.(signer|signerVerifier|admin|cryptoOperator)$|^roles\/cloudkms\.cryptoKeyEncrypterDecrypter/;

function voteKeyScope(model: TerraformModel): Finding[] {
  const found: Finding[] = [];
  const signers: Block[] = [];
  for (const g of grants(model)) {
    const { role, permissions } = grantedPermissions(model, g);
    const kms = role?.startsWith('roles/cloudkms.') || (permissions ?? []).some((p) => p.startsWith('cloudkms.'));
    if (!kms) continue;
    if (!/^google_kms_crypto_key_iam_(member|binding)$/.test(g.type)) {
      found.push({ code: 'vote_key_scope', where: at(g), message: `${role ?? 'a Cloud KMS permission'} must be granted on one crypto key, not on the ${g.type.replace(/^google_|_iam_(member|binding|policy)$/g, '')}` });
      continue;
    }
    const signs = (role !== undefined && KMS_SIGNING.test(role)) || (permissions ?? []).some((p) => p === 'cloudkms.cryptoKeyVersions.useToSign');
    if (signs) signers.push(g);
  }
  const desk = signers.filter((g) => soleExpression(g.body.crypto_key_id) === VOTE_KEY && membersOf(g).length === 1 && membersOf(g)[0] === APPROVAL_DESK);
  // The checkpoint signer's one grant is checkpointSigner's to judge.
  const checkpointSigners = signers.filter((g) => soleExpression(g.body.crypto_key_id) === CHECKPOINT_KEY && membersOf(g).length === 1 && membersOf(g)[0] === CHECKPOINT_SIGNER);
  for (const g of signers) {
    if (!desk.includes(g) && !checkpointSigners.includes(g)) found.push({ code: 'vote_key_scope', where: at(g), message: 'only the approvals function\'s account may sign, and only with the vote key' });
  }
  if (desk.length !== 1) found.push({ code: 'vote_key_scope', where: 'approval desk', message: `expected one grant letting the approvals function sign with ${VOTE_KEY}, found ${desk.length}` });
  return found;
}

// Issue 14: checkpoints are signed with a key only the checkpoint function's account may use. No
// other grant of any kind on that key (the query function verifies nothing with it: auditors use
// the published key); an asymmetric EC P-256 key Terraform may not destroy; the function run
// every minute by Cloud Scheduler as its own account; and in the bucket no permission that could
// delete (and so overwrite) a checkpoint.
const CHECKPOINT_KEY = 'google_kms_crypto_key.checkpoints.id';
const CHECKPOINT_SIGNER = 'google_service_account.checkpoints.member';
const STORAGE_DESTRUCTIVE = /^storage\.(objects\.(delete|update|setIamPolicy)|buckets\.(delete|update|setIamPolicy))$|^storage\.\*$|^\*$/;
const STORAGE_DESTRUCTIVE_ROLES = /^roles\/storage\.(admin|objectAdmin|objectUser|legacyBucketOwner|legacyBucketWriter|legacyObjectOwner)$/;

function checkpointSigner(model: TerraformModel): Finding[] {
  const found: Finding[] = [];
  const fail = (where: string, message: string, code: FindingCode = 'checkpoint_signer_missing') => found.push({ code, where, message });
  const key = model.blocks.find((b) => b.kind === 'resource' && b.type === 'google_kms_crypto_key' && b.name === 'checkpoints');
  if (!key) fail('google_kms_crypto_key.checkpoints', 'missing: checkpoints must be signed with a key of their own');
  else {
    const template = nested(key.body, 'version_template');
    if (key.body.purpose !== 'ASYMMETRIC_SIGN' || template?.algorithm !== 'EC_SIGN_P256_SHA256') fail(at(key), 'the checkpoint key must be ASYMMETRIC_SIGN with EC_SIGN_P256_SHA256 (what verify checks)');
    if (nested(key.body, 'lifecycle')?.prevent_destroy !== true) fail(at(key), 'the checkpoint key needs lifecycle.prevent_destroy: destroying it makes every checkpoint unverifiable');
  }
  const onKey = grants(model).filter((g) => soleExpression(g.body.crypto_key_id) === CHECKPOINT_KEY);
  const signs = onKey.filter((g) => g.body.role === 'roles/cloudkms.signerVerifier' && membersOf(g).length === 1 && membersOf(g)[0] === CHECKPOINT_SIGNER);
  if (signs.length !== 1) fail('checkpoint key', `expected one grant of roles/cloudkms.signerVerifier on ${CHECKPOINT_KEY} to the checkpoint function's account, found ${signs.length}`, 'checkpoint_key_scope');
  for (const g of onKey) {
    if (!signs.includes(g)) fail(at(g), `only the checkpoint function's account may hold a role on the checkpoint key (found ${JSON.stringify(g.body.role)} for ${membersOf(g).join(', ')})`, 'checkpoint_key_scope');
  }
  // The signer's account holds no KMS role on anything else.
  for (const g of grants(model)) {
    const { role, permissions } = grantedPermissions(model, g);
    const kms = role?.startsWith('roles/cloudkms.') || (permissions ?? []).some((p) => p.startsWith('cloudkms.'));
    if (kms && membersOf(g).includes(CHECKPOINT_SIGNER) && soleExpression(g.body.crypto_key_id) !== CHECKPOINT_KEY) {
      fail(at(g), 'the checkpoint function\'s account may use its own key only', 'checkpoint_key_scope');
    }
    // In any bucket: create and read, never delete or replace.
    if (/^google_storage_bucket_iam_/.test(g.type) && membersOf(g).includes(CHECKPOINT_SIGNER)) {
      if ((role !== undefined && STORAGE_DESTRUCTIVE_ROLES.test(role)) || (permissions ?? []).some((p) => STORAGE_DESTRUCTIVE.test(p))) {
        fail(at(g), `${role ?? 'a storage permission'} would let the checkpoint signer delete or replace checkpoints`, 'checkpoint_key_scope');
      }
    }
  }
  const writes = grants(model).filter((g) => /^google_storage_bucket_iam_(member|binding)$/.test(g.type) && soleExpression(g.body.bucket) === 'google_storage_bucket.audit_exports.name' && membersOf(g).includes(CHECKPOINT_SIGNER));
  if (!writes.some((g) => (grantedPermissions(model, g).permissions ?? []).includes('storage.objects.create') || g.body.role === 'roles/storage.objectCreator')) {
    fail('google_storage_bucket.audit_exports', 'the checkpoint function\'s account cannot create objects in the retention-locked bucket');
  }
  const job = model.blocks.find((b) => b.kind === 'resource' && b.type === 'google_cloud_scheduler_job' && String(nested(b.body, 'http_target')?.uri ?? '').includes('local.checkpoint_url}/v1/checkpoints'));
  if (!job) fail('google_cloud_scheduler_job', 'no scheduled call of the checkpoint function (POST …/v1/checkpoints)');
  else {
    const oidc = nested(nested(job.body, 'http_target') ?? {}, 'oidc_token');
    if (soleExpression(oidc?.service_account_email) !== 'google_service_account.checkpoint_scheduler.email') fail(at(job), 'the checkpoint job must call as the checkpoint scheduler\'s account (the function\'s only invoker)');
  }
  return found;
}

function secretAccessors(model: TerraformModel): Finding[] {
  const secrets = new Set(model.blocks.filter((b) => b.kind === 'resource' && b.type === 'google_secret_manager_secret').map((b) => b.name));
  return grants(model).flatMap((g): Finding[] => {
    const { role, permissions } = grantedPermissions(model, g);
    const reads = role?.startsWith('roles/secretmanager.') || (permissions ?? []).some((p) => p.startsWith('secretmanager.versions.access'));
    if (!reads) return [];
    if (!/^google_secret_manager_secret_iam_(member|binding)$/.test(g.type)) {
      return [{ code: 'secret_accessor_unscoped', where: at(g), message: `${role ?? 'a secret role'} must be granted on one named secret, not on the ${g.type.split('_')[1]}` }];
    }
    const named = namedSecret(g);
    if (named === undefined || !secrets.has(named)) {
      return [{ code: 'secret_accessor_unscoped', where: at(g), message: `secret_id ${JSON.stringify(g.body.secret_id)} does not name a secret defined here` }];
    }
    return [];
  });
}

/** `google_secret_manager_secret.X.secret_id`, directly or as `each.value.secret_id` over `for_each = google_secret_manager_secret.X`. */
function namedSecret(g: Block): string | undefined {
  const id = soleExpression(g.body.secret_id) ?? '';
  const direct = /^google_secret_manager_secret\.([\w-]+)(\["[^"]+"\])?\.(secret_id|id|name)$/.exec(id);
  if (direct) return direct[1];
  if (/^each\.value\.(secret_id|id|name)$/.test(id)) return /^google_secret_manager_secret\.([\w-]+)$/.exec(soleExpression(g.body.for_each) ?? '')?.[1];
  return undefined;
}

function invokers(model: TerraformModel): Finding[] {
  const found: Finding[] = [];
  const byFunction = new Map<string, string[]>();
  for (const f of model.blocks.filter((b) => b.kind === 'resource' && b.type === 'google_cloudfunctions2_function')) {
    for (const key of functionKeys(model, f)) byFunction.set(key, []);
  }
  for (const g of grants(model)) {
    const { role, permissions } = grantedPermissions(model, g);
    if (!(INVOKER_ROLES.has(role ?? '') || (permissions ?? []).some((p) => INVOKER_PERMISSIONS.test(p)))) continue;
    if (isProjectLevel(g)) {
      found.push({ code: 'invoker_project_wide', where: at(g), message: `${role ?? 'invoke'} on the project would let its members call every function` });
      continue;
    }
    const target = [g.body.name, g.body.service, g.body.cloud_function]
      .map((v) => /google_cloudfunctions2_function\.([\w-]+)(?:\["([^"]+)"\])?/.exec(typeof v === 'string' ? v : ''))
      .find((m) => m !== null);
    const key = target ? (target[2] ?? target[1]!) : undefined;
    if (key === undefined || !byFunction.has(key)) {
      found.push({ code: 'invoker_target_unknown', where: at(g), message: 'an invoker grant whose function cannot be told from its name' });
      continue;
    }
    byFunction.get(key)!.push(...membersOf(g));
  }
  for (const [fn, members] of byFunction) {
    const intended = INTENDED_INVOKERS[fn] ?? [];
    const same = members.length === intended.length && [...members].sort().every((m, i) => m === [...intended].sort()[i]);
    if (!same) {
      found.push({ code: 'invoker_mismatch', where: `function ${fn}`, message: `invokers are [${members.join(', ')}], intended exactly [${intended.join(', ')}]` });
    }
  }
  return found;
}

/** `for_each = local.functions` gives one function per key of that local. */
function functionKeys(model: TerraformModel, f: Block): string[] {
  if (f.body.for_each === undefined) return [f.name];
  const local = /^local\.([\w-]+)$/.exec(soleExpression(f.body.for_each) ?? '');
  const value = local ? model.locals[local[1]!] : undefined;
  return value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [`${f.name}[?]`];
}

function durability(model: TerraformModel): Finding[] {
  const found: Finding[] = [];
  const resources = (type: string) => model.blocks.filter((b) => b.kind === 'resource' && b.type === type);
  const databases = resources('google_firestore_database');
  for (const name of ['audit', 'state']) {
    if (!databases.some((d) => d.name === name)) found.push({ code: 'firestore_protection', where: `google_firestore_database.${name}`, message: 'missing' });
  }
  for (const d of databases) {
    if (d.body.point_in_time_recovery_enablement !== 'POINT_IN_TIME_RECOVERY_ENABLED') {
      found.push({ code: 'firestore_protection', where: at(d), message: 'point-in-time recovery is not enabled' });
    }
    if (d.body.delete_protection_state !== 'DELETE_PROTECTION_ENABLED') {
      found.push({ code: 'firestore_protection', where: at(d), message: 'delete protection is not enabled' });
    }
  }
  const retained = resources('google_storage_bucket').filter((b) => nested(b.body, 'retention_policy'));
  if (retained.length === 0) found.push({ code: 'retention_unlocked', where: 'google_storage_bucket', message: 'no bucket has a retention policy' });
  for (const b of retained) {
    const locked = nested(b.body, 'retention_policy')!.is_locked;
    const variable = /^var\.([\w-]+)$/.exec(soleExpression(locked) ?? '')?.[1];
    const byDefault = variable !== undefined && model.variables.find((v) => v.name === variable)?.body.default === true;
    if (locked !== true && !byDefault) found.push({ code: 'retention_unlocked', where: at(b), message: 'the retention policy is not locked (by default)' });
  }
  const exports = resources('google_cloud_scheduler_job').filter((j) => {
    const uri = nested(j.body, 'http_target')?.uri;
    return typeof uri === 'string' && uri.includes(':exportDocuments') && AUDIT_DB_REFERENCES.some((r) => uri.includes(r));
  });
  if (exports.length === 0) found.push({ code: 'audit_export_missing', where: 'google_cloud_scheduler_job', message: 'no scheduled export of the audit database' });
  const deadLettered = resources('google_pubsub_subscription').some((s) => nested(s.body, 'dead_letter_policy')?.dead_letter_topic);
  if (!deadLettered) found.push({ code: 'dead_letter_missing', where: 'google_pubsub_subscription', message: 'no subscription has a dead-letter topic' });
  return found;
}

function documentation(model: TerraformModel): Finding[] {
  return [...model.variables.map((v) => ({ ...v, kind: 'variable' })), ...model.outputs.map((o) => ({ ...o, kind: 'output' }))]
    .filter((x) => typeof x.body.description !== 'string' || x.body.description.trim() === '')
    .map((x) => ({ code: 'undocumented' as const, where: `${x.file}: ${x.kind}.${x.name}`, message: 'has no description' }));
}
