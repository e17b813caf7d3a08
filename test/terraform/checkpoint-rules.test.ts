// The checkpoint signer's grants (issue 14), proven on the parsed Terraform: the real module passes,
// and each way of getting them wrong — written into a copy of the module — is caught by its code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { checkpointConfigFromEnv } from '../../shared/adapters/checkpoints/gcp.ts';
import { checkTerraform } from '../../scripts/terraform-check/rules.ts';
import { codes, findingsAfter, loadReal, ROOT } from './fixtures.ts';

test('the real module: the checkpoint signer passes every rule', async (t) => {
  t.deepEqual(checkTerraform(await loadReal()).filter((f) => f.code.startsWith('checkpoint') || f.where.includes('checkpoint')), []);
});

test('the query function given anything on the checkpoint key is found (even only the public key)', async (t) => {
  for (const role of ['roles/cloudkms.publicKeyViewer', 'roles/cloudkms.signerVerifier', 'roles/cloudkms.viewer']) {
    const f = await findingsAfter({
      file: 'checkpoints.tf',
      to: `resource "google_kms_crypto_key_iam_member" "gw" {\n  crypto_key_id = google_kms_crypto_key.checkpoints.id\n  role          = "${role}"\n  member        = google_service_account.gateway.member\n}`,
    });
    t.true(f.some((x) => x.code === 'checkpoint_key_scope' && x.where.includes('.gw')), role);
  }
});

test('the signing grant given to another account, or missing, is found', async (t) => {
  const to = await findingsAfter({ file: 'checkpoints.tf', from: 'role          = "roles/cloudkms.signerVerifier"\n  member        = google_service_account.checkpoints.member', to: 'role          = "roles/cloudkms.signerVerifier"\n  member        = google_service_account.gateway.member' });
  t.true(to.some((x) => x.code === 'checkpoint_key_scope' && /expected one grant/.test(x.message)));
  t.true(to.some((x) => x.code === 'vote_key_scope'), 'the gateway signing with any key is also the vote rule\'s finding');
  const shared = await findingsAfter({
    file: 'checkpoints.tf',
    from: 'member        = google_service_account.checkpoints.member\n}',
    to: 'member        = google_service_account.checkpoints.member\n}\nresource "google_kms_crypto_key_iam_binding" "both" {\n  crypto_key_id = google_kms_crypto_key.checkpoints.id\n  role          = "roles/cloudkms.signer"\n  members       = [google_service_account.checkpoints.member, google_service_account.approvals.member]\n}',
  });
  t.true(shared.some((x) => x.code === 'checkpoint_key_scope' && x.where.includes('.both')));
});

test('a KMS role on the key ring or the project for the checkpoint signer is found', async (t) => {
  const ring = await findingsAfter({
    file: 'checkpoints.tf',
    to: 'resource "google_kms_key_ring_iam_member" "ring" {\n  key_ring_id = google_kms_key_ring.gatehouse.id\n  role        = "roles/cloudkms.signerVerifier"\n  member      = google_service_account.checkpoints.member\n}',
  });
  t.deepEqual(codes(ring), ['checkpoint_key_scope', 'vote_key_scope']);
  const project = await findingsAfter({
    file: 'checkpoints.tf',
    to: 'resource "google_project_iam_member" "kms" {\n  project = var.project_id\n  role    = "roles/cloudkms.signerVerifier"\n  member  = google_service_account.checkpoints.member\n}',
  });
  t.deepEqual(codes(project), ['checkpoint_key_scope', 'vote_key_scope']);
});

test('the key: another algorithm, or destroyable, is found', async (t) => {
  const alg = await findingsAfter({ file: 'checkpoints.tf', from: 'algorithm        = "EC_SIGN_P256_SHA256"', to: 'algorithm        = "RSA_SIGN_PSS_2048_SHA256"' });
  t.true(alg.some((x) => x.code === 'checkpoint_signer_missing' && /EC_SIGN_P256_SHA256/.test(x.message)));
  const destroy = await findingsAfter({ file: 'checkpoints.tf', from: '  lifecycle {\n    prevent_destroy = true\n  }\n', to: '' });
  t.true(destroy.some((x) => x.code === 'checkpoint_signer_missing' && /prevent_destroy/.test(x.message)));
});

test('a bucket role that could delete or replace a checkpoint is found; no create right is found', async (t) => {
  for (const role of ['roles/storage.objectAdmin', 'roles/storage.objectUser', 'roles/storage.admin']) {
    const f = await findingsAfter({ file: 'checkpoints.tf', from: 'role   = google_project_iam_custom_role.export_writer.id\n  member = google_service_account.checkpoints.member', to: `role   = "${role}"\n  member = google_service_account.checkpoints.member` });
    t.true(f.some((x) => x.code === 'checkpoint_key_scope' && x.message.includes(role)), role);
  }
  const custom = await findingsAfter({ file: 'audit-export.tf', from: '"storage.objects.create",', to: '"storage.objects.create",\n    "storage.objects.delete",' });
  t.true(custom.some((x) => x.code === 'checkpoint_key_scope' && x.where.includes('checkpoints_writes_bucket')));
  const none = await findingsAfter({ file: 'checkpoints.tf', from: 'resource "google_storage_bucket_iam_member" "checkpoints_writes_bucket"', to: 'resource "google_storage_bucket_iam_member" "checkpoints_writes_other"' }, { file: 'checkpoints.tf', from: 'bucket = google_storage_bucket.audit_exports.name\n  role   = google_project_iam_custom_role.export_writer.id', to: 'bucket = google_storage_bucket.source.name\n  role   = google_project_iam_custom_role.export_writer.id' });
  t.true(none.some((x) => x.code === 'checkpoint_signer_missing' && /cannot create objects/.test(x.message)));
});

test('anyone else invoking the checkpoint function, or the job calling as someone else, is found', async (t) => {
  const bots = await findingsAfter({
    file: 'checkpoints.tf',
    to: 'resource "google_cloud_run_v2_service_iam_member" "more" {\n  for_each = var.bot_members\n  project  = var.project_id\n  location = var.region\n  name     = google_cloudfunctions2_function.this["checkpoint"].name\n  role     = "roles/run.invoker"\n  member   = each.value\n}',
  });
  t.true(bots.some((x) => x.code === 'invoker_mismatch' && x.where === 'function checkpoint'));
  const job = await findingsAfter({ file: 'checkpoints.tf', from: 'service_account_email = google_service_account.checkpoint_scheduler.email', to: 'service_account_email = google_service_account.republisher.email' });
  t.true(job.some((x) => x.code === 'checkpoint_signer_missing' && /checkpoint scheduler/.test(x.message)));
  const noJob = await findingsAfter({ file: 'checkpoints.tf', from: '${local.checkpoint_url}/v1/checkpoints', to: '${local.checkpoint_url}/v1/other' });
  t.true(noJob.some((x) => x.code === 'checkpoint_signer_missing' && /no scheduled call/.test(x.message)));
});

test('the checkpoint function is told what checkpointConfigFromEnv accepts, and its route is served', async (t) => {
  const model = await loadReal();
  const env = model.locals.checkpoint_env as Record<string, string>;
  const filled = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v
        .replace('${var.project_id}', 'acme-prod')
        .replace('${google_firestore_database.audit.name}', 'gatehouse-audit')
        .replace('${local.checkpoint_signing_key_version}', 'projects/acme-prod/locations/europe-west1/keyRings/gatehouse/cryptoKeys/gatehouse-checkpoints/cryptoKeyVersions/1')
        .replace('${google_storage_bucket.audit_exports.name}', 'acme-prod-gatehouse-audit-exports')
        .replace('${local.checkpoint_prefix}', 'checkpoints'),
    ]),
  );
  t.false(Object.values(filled).some((v) => v.includes('${')), JSON.stringify(filled));
  const config = checkpointConfigFromEnv(filled);
  t.like(config, { projectId: 'acme-prod', databaseId: 'gatehouse-audit', bucketUrl: 'gs://acme-prod-gatehouse-audit-exports/checkpoints' });
  // Nothing the query path uses: no masking key, no approval key, no session store URL.
  t.false(['GATEHOUSE_MASKING_KEY', 'GATEHOUSE_APPROVAL_SIGNING_KEY', 'GATEHOUSE_SESSION_STORE'].some((k) => k in env));
  t.true(readFileSync(join(ROOT, 'functions/checkpoint.ts'), 'utf8').includes("req.path === '/v1/checkpoints'"));
  t.true(readFileSync(join(ROOT, 'functions/index.ts'), 'utf8').includes("ff.http('checkpoint'"));
  const job = model.blocks.find((b) => b.type === 'google_cloud_scheduler_job' && b.name === 'checkpoint');
  t.is(job?.body.schedule, '${var.checkpoint_schedule}');
  t.is(model.variables.find((v) => v.name === 'checkpoint_schedule')?.body.default, '* * * * *');
});
