# Signed checkpoints of the session log (issue 14; docs/evidence.md). Every minute Cloud Scheduler
# calls the checkpoint function, which reads the audit database's new leaves, signs the tree's
# root with a Cloud KMS key of its own and writes the checkpoint, with the consistency proof from
# the previous one, create-only to the retention-locked bucket and to the audit database's
# `checkpoints` collection. Whoever holds the query path's rights can append to the log but cannot
# sign: only this function's account may use the key, and no one may delete a stored checkpoint.
# On demand: `gcloud scheduler jobs run <name_prefix>-checkpoint` (the job is the only invoker).

# Runs the checkpoint function (nothing else).
resource "google_service_account" "checkpoints" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-checkpoints"
  display_name = "Gatehouse checkpoint signer (checkpoint function)"
}

# The identity Cloud Scheduler calls the checkpoint function as; it may invoke that function only.
resource "google_service_account" "checkpoint_scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-cp-scheduler"
  display_name = "Gatehouse checkpoint scheduler (invokes the checkpoint function)"
}

# EC P-256 / SHA-256, what shared/adapters/checkpoints/kms-signer.ts asks for; the same format as
# the local key file, so `evidence verify` checks both the same way. prevent_destroy: destroying
# the versions would make every signed checkpoint unverifiable.
resource "google_kms_crypto_key" "checkpoints" {
  name     = "${var.name_prefix}-checkpoints"
  key_ring = google_kms_key_ring.gatehouse.id
  purpose  = "ASYMMETRIC_SIGN"
  version_template {
    algorithm        = "EC_SIGN_P256_SHA256"
    protection_level = var.checkpoint_key_protection_level
  }
  lifecycle {
    prevent_destroy = true
  }
}

locals {
  # Version 1, created with the key. A new version is a new log id: publish its public key and
  # give its checkpoints a new prefix.
  checkpoint_signing_key_version = "${google_kms_crypto_key.checkpoints.id}/cryptoKeyVersions/1"
  checkpoint_url                 = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}-checkpoint"
  checkpoint_prefix              = "checkpoints"

  checkpoint_env = {
    NODE_ENV                    = "production"
    GATEHOUSE_FIRESTORE_PROJECT = var.project_id
    GATEHOUSE_AUDIT_DATABASE    = google_firestore_database.audit.name
    GATEHOUSE_CHECKPOINT_KEY    = "kms://${local.checkpoint_signing_key_version}"
    GATEHOUSE_CHECKPOINT_BUCKET = "gs://${google_storage_bucket.audit_exports.name}/${local.checkpoint_prefix}"
  }
}

data "google_kms_crypto_key_version" "checkpoints" {
  crypto_key = google_kms_crypto_key.checkpoints.id
  version    = 1
}

# The only grant on the checkpoint key: its signer, on this one key. The query function's account
# gets nothing on it (verifiers use the published public key, the output checkpoint_public_key).
resource "google_kms_crypto_key_iam_member" "checkpoints_signs" {
  crypto_key_id = google_kms_crypto_key.checkpoints.id
  role          = "roles/cloudkms.signerVerifier"
  member        = google_service_account.checkpoints.member
}

# The log's leaves and the checkpoint journal: the audit database, create and read only (the same
# custom role as the gateway's; no update, no delete).
resource "google_project_iam_member" "checkpoints_reads_audit" {
  project = var.project_id
  role    = google_project_iam_custom_role.audit_appender.id
  member  = google_service_account.checkpoints.member
  condition {
    title       = "only the audit database"
    description = "Gatehouse checkpoints: read the log, create checkpoint documents"
    expression  = local.audit_database_condition
  }
}

# The bucket: create objects, read them back (a run completes the last checkpoint's copy); no
# delete, so no overwrite either — and the locked retention policy holds even against owners.
resource "google_storage_bucket_iam_member" "checkpoints_writes_bucket" {
  bucket = google_storage_bucket.audit_exports.name
  role   = google_project_iam_custom_role.export_writer.id
  member = google_service_account.checkpoints.member
}

resource "google_cloud_run_v2_service_iam_member" "checkpoint_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["checkpoint"].name
  role     = "roles/run.invoker"
  member   = google_service_account.checkpoint_scheduler.member
}

# Cloud Scheduler mints the checkpoint scheduler's ID token for each run.
resource "google_service_account_iam_member" "scheduler_acts_as_checkpoint_scheduler" {
  service_account_id = google_service_account.checkpoint_scheduler.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.scheduler_service_agent
}

resource "google_cloud_scheduler_job" "checkpoint" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-checkpoint"
  description = "Sign a checkpoint of the Gatehouse session log (Cloud KMS) and store it"
  schedule    = var.checkpoint_schedule
  time_zone   = "Etc/UTC"

  # A failed run (KMS down: 503) is simply tried again at the next minute.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.checkpoint_url}/v1/checkpoints"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")
    oidc_token {
      service_account_email = google_service_account.checkpoint_scheduler.email
      audience              = local.checkpoint_url
    }
  }

  depends_on = [google_service_account_iam_member.scheduler_acts_as_checkpoint_scheduler]
}
