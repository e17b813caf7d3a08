// The deployment's IAM, as CI can prove it without a terraform binary or a GCP project: the real
// tree passes every rule, and each rule catches the mistake it is for when that mistake is
// written into a copy of the module (so no rule can pass vacuously).
import test from 'ava';
import { checkTerraform } from '../../scripts/terraform-check/rules.ts';
import { codes, findingsAfter, loadReal } from './fixtures.ts';

test('the module and the example root pass every rule', async (t) => {
  const findings = checkTerraform(await loadReal());
  t.deepEqual(findings, []);
});

test('a basic role (owner, editor, viewer) anywhere is found', async (t) => {
  const f = await findingsAfter({
    file: 'service-accounts.tf',
    to: 'resource "google_project_iam_member" "oops" {\n  project = var.project_id\n  role    = "roles/editor"\n  member  = google_service_account.gateway.member\n}',
  });
  t.true(f.some((x) => x.code === 'primitive_role' && x.message.includes('roles/editor')));
  // Even hidden in a local, and for the other two.
  t.deepEqual(codes(await findingsAfter({ file: 'main.tf', to: 'locals {\n  r = "roles/owner"\n}' })), ['primitive_role']);
  t.deepEqual(codes(await findingsAfter({ file: 'main.tf', to: 'locals {\n  r = ["roles/viewer"]\n}' })), ['primitive_role']);
});

test('roles/datastore.viewer is not mistaken for the basic viewer role', async (t) => {
  t.false(checkTerraform(await loadReal()).some((x) => x.code === 'primitive_role'));
  const f = await findingsAfter({ file: 'main.tf', to: 'locals {\n  r = "roles/datastore.viewer roles/run.viewer"\n}' });
  t.deepEqual(codes(f), []);
});

test('allUsers or allAuthenticatedUsers as an invoker is found', async (t) => {
  const f = await findingsAfter({ file: 'functions.tf', from: 'member   = google_service_account.notifier.member', to: 'member   = "allUsers"' });
  t.true(f.some((x) => x.code === 'public_member'));
  t.true(f.some((x) => x.code === 'invoker_mismatch' && x.where === 'function notify'));
  const g = await findingsAfter({
    file: 'audit-export.tf',
    from: 'for_each = var.auditor_members\n  bucket',
    to: 'for_each = setunion(var.auditor_members, ["allAuthenticatedUsers"])\n  bucket',
  });
  t.true(g.some((x) => x.code === 'public_member'));
});

test('a public member smuggled in through a variable default is found', async (t) => {
  const f = await findingsAfter({ file: 'variables.tf', from: 'type        = set(string)\n  default     = []', to: 'type        = set(string)\n  default     = ["allUsers"]' });
  t.true(f.some((x) => x.code === 'public_member' && x.where.includes('variable.auditor_members')));
});

test('a service account key (resource or data source) is found', async (t) => {
  const f = await findingsAfter({ file: 'service-accounts.tf', to: 'resource "google_service_account_key" "k" {\n  service_account_id = google_service_account.gateway.name\n}' });
  t.deepEqual(codes(f), ['service_account_key']);
  const g = await findingsAfter({ file: 'service-accounts.tf', to: 'data "google_service_account_key" "k" {\n  name = "x"\n}' });
  t.deepEqual(codes(g), ['service_account_key']);
});

test('a secret value in Terraform (a secret version) is found', async (t) => {
  const f = await findingsAfter({
    file: 'secrets.tf',
    to: 'resource "google_secret_manager_secret_version" "v" {\n  secret      = google_secret_manager_secret.masking_key.id\n  secret_data = "c2VjcmV0"\n}',
  });
  t.deepEqual(codes(f), ['secret_value_in_code']);
  const g = await findingsAfter({ file: 'secrets.tf', to: 'data "google_secret_manager_secret_version" "v" {\n  secret = google_secret_manager_secret.masking_key.id\n}' });
  t.deepEqual(codes(g), ['secret_value_in_code']);
});

test('the audit role: update or delete on the audit database is found', async (t) => {
  for (const p of ['datastore.entities.update', 'datastore.entities.delete', 'datastore.databases.import']) {
    const f = await findingsAfter({ file: 'firestore.tf', from: '"datastore.entities.list",', to: `"datastore.entities.list",\n    "${p}",` });
    t.true(f.some((x) => x.code === 'audit_role_permissions' && x.message.includes(p)), p);
  }
});

test('the audit role: missing create, get or list is found', async (t) => {
  for (const p of ['datastore.entities.create', 'datastore.entities.get', 'datastore.entities.list']) {
    const f = await findingsAfter({ file: 'firestore.tf', from: `    "${p}",\n`, to: '' });
    t.true(f.some((x) => x.code === 'audit_role_permissions' && x.message.includes(`lacks ${p}`)), p);
  }
});

test('the audit role: a predefined read-write role on the audit database is found', async (t) => {
  const f = await findingsAfter({
    file: 'firestore.tf',
    from: 'role    = google_project_iam_custom_role.audit_appender.id',
    to: 'role    = "roles/datastore.user"',
  });
  t.true(f.some((x) => x.code === 'audit_role_permissions' && x.message.includes('roles/datastore.user')));
});

test('a Firestore role on the project without a database condition is found', async (t) => {
  const f = await findingsAfter({
    file: 'firestore.tf',
    to: 'resource "google_project_iam_member" "wide" {\n  project = var.project_id\n  role    = "roles/datastore.user"\n  member  = google_service_account.notifier.member\n}',
  });
  t.deepEqual(codes(f), ['unscoped_datastore_role']);
});

test('a secret accessor on the project, or on a secret not defined here, is found', async (t) => {
  const f = await findingsAfter({
    file: 'secrets.tf',
    to: 'resource "google_project_iam_member" "all_secrets" {\n  project = var.project_id\n  role    = "roles/secretmanager.secretAccessor"\n  member  = google_service_account.notifier.member\n}',
  });
  t.deepEqual(codes(f), ['secret_accessor_unscoped']);
  const g = await findingsAfter({
    file: 'secrets.tf',
    from: 'secret_id = google_secret_manager_secret.masking_key.secret_id\n  role',
    to: 'secret_id = "someone-elses-secret"\n  role',
  });
  t.deepEqual(codes(g), ['secret_accessor_unscoped']);
});

test('a role that is neither a literal nor a custom role defined here is found', async (t) => {
  const f = await findingsAfter({ file: 'pubsub.tf', from: 'role    = "roles/pubsub.publisher"\n  member  = google_service_account.gateway.member', to: 'role    = "roles/${var.name_prefix}"\n  member  = google_service_account.gateway.member' });
  t.deepEqual(codes(f), ['role_not_literal']);
  const g = await findingsAfter({ file: 'audit-export.tf', from: 'role    = google_project_iam_custom_role.audit_exporter.id', to: 'role    = google_project_iam_custom_role.not_here.id' });
  t.true(g.some((x) => x.code === 'role_not_literal'));
});

test('invokers: approvers added to the query function are found', async (t) => {
  const f = await findingsAfter({ file: 'functions.tf', from: 'for_each = var.bot_members', to: 'for_each = setunion(var.bot_members, var.approver_members)' });
  t.true(f.some((x) => x.code === 'invoker_mismatch' && x.where === 'function query'));
});

test('invokers: a second grant on the approvals function is found', async (t) => {
  const f = await findingsAfter({
    file: 'functions.tf',
    to: 'resource "google_cloud_run_v2_service_iam_member" "extra" {\n  project  = var.project_id\n  location = var.region\n  name     = google_cloudfunctions2_function.this["approvals"].name\n  role     = "roles/run.invoker"\n  member   = google_service_account.gateway.member\n}',
  });
  t.deepEqual(codes(f), ['invoker_mismatch']);
  t.regex(f[0]!.message, /google_service_account\.gateway\.member/);
});

test('invokers: a function with no invoker grant at all is found', async (t) => {
  const f = await findingsAfter({ file: 'functions.tf', from: 'for_each = var.approver_members\n', to: 'for_each = toset([])\n' });
  t.true(f.some((x) => x.code === 'invoker_mismatch' && x.where === 'function approvals'));
});

test('invokers: run.invoker on the whole project is found', async (t) => {
  const f = await findingsAfter({
    file: 'functions.tf',
    to: 'resource "google_project_iam_member" "everyone_invokes" {\n  project = var.project_id\n  role    = "roles/run.invoker"\n  member  = "group:bots@example.com"\n}',
  });
  t.deepEqual(codes(f), ['invoker_project_wide']);
});

test('invokers: a grant whose function cannot be told is refused, not ignored', async (t) => {
  const f = await findingsAfter({
    file: 'functions.tf',
    to: 'resource "google_cloud_run_v2_service_iam_member" "mystery" {\n  project  = var.project_id\n  location = var.region\n  name     = "gatehouse-query"\n  role     = "roles/run.invoker"\n  member   = "group:x@example.com"\n}',
  });
  t.deepEqual(codes(f), ['invoker_target_unknown']);
});

test('the vote-signing key: only the approvals function signs, on that key; a KMS role anywhere wider is found', async (t) => {
  // The query path's account given the signer role on the vote key.
  const f = await findingsAfter({
    file: 'approval-desk.tf',
    from: 'role          = "roles/cloudkms.publicKeyViewer"',
    to: 'role          = "roles/cloudkms.signerVerifier"',
  });
  t.deepEqual(codes(f), ['vote_key_scope']);
  // The approvals function's signing grant removed (so nobody can sign: votes would never verify).
  const g = await findingsAfter({ file: 'approval-desk.tf', from: 'member        = google_service_account.approvals.member', to: 'member        = google_service_account.gateway.member' });
  t.true(g.some((x) => x.code === 'vote_key_scope' && x.where === 'approval desk'));
  // Signing granted on the whole project.
  const h = await findingsAfter({
    file: 'approval-desk.tf',
    to: 'resource "google_project_iam_member" "kms" {\n  project = var.project_id\n  role    = "roles/cloudkms.signer"\n  member  = google_service_account.gateway.member\n}',
  });
  t.true(h.some((x) => x.code === 'vote_key_scope' && x.message.includes('one crypto key')));
});
