output "query_url" {
  description = "The query function's URL. Bots call <query_url>/v1/query with an ID token whose audience is exactly this URL; put it in the policy's Google issuer audience."
  value       = local.query_url
}

output "approvals_url" {
  description = "The approvals function's URL (review links point here; GATEHOUSE_URL for `gatehouse approvals`)."
  value       = local.approvals_url
}

output "function_uris" {
  description = "The run.app URI of each function (query, approvals, notify, checkpoint), as Cloud Run reports it."
  value       = { for k, f in google_cloudfunctions2_function.this : k => f.service_config[0].uri }
}

output "approvals_topic" {
  description = "The Pub/Sub topic approval requests are published to."
  value       = google_pubsub_topic.approvals.id
}

output "dead_letter_topic" {
  description = "Approval requests the notify function could not deliver after every retry."
  value       = google_pubsub_topic.approvals_dead_letter.id
}

output "service_accounts" {
  description = "Email of each service account: gateway (query), approvals (approvals; signs votes), notifier (notify, push identity), builder, exporter, republisher, checkpoints (checkpoint; signs checkpoints)."
  value = {
    gateway     = google_service_account.gateway.email
    approvals   = google_service_account.approvals.email
    notifier    = google_service_account.notifier.email
    builder     = google_service_account.builder.email
    exporter    = google_service_account.exporter.email
    republisher = google_service_account.republisher.email
    checkpoints = google_service_account.checkpoints.email
  }
}

output "audit_database" {
  description = "The create-only Firestore database holding the session log (`gatehouse … --store firestore://PROJECT/DATABASE`)."
  value       = google_firestore_database.audit.name
}

output "state_database" {
  description = "The Firestore database holding approval state."
  value       = google_firestore_database.state.name
}

output "audit_export_bucket" {
  description = "The retention-locked bucket the audit database is exported into."
  value       = google_storage_bucket.audit_exports.name
}

output "secret_ids" {
  description = "The secrets whose values you add out of band (README: Deployment), by purpose."
  value = merge(
    { for name, s in google_secret_manager_secret.connection : "connection:${name}" => s.secret_id },
    { masking_key = google_secret_manager_secret.masking_key.secret_id },
    { for c, s in google_secret_manager_secret.notify : "notify:${c}" => s.secret_id },
  )
}

output "connection_secret_refs" {
  description = "The credentials reference to write in the policy for each connection."
  value       = { for name, s in google_secret_manager_secret.connection : name => "${local.secret_ref}/${s.secret_id}/versions/latest" }
}

output "approval_signing_key" {
  description = "The Cloud KMS key version the approval desk signs votes with (GATEHOUSE_APPROVAL_SIGNING_KEY without its kms:// scheme)."
  value       = local.approval_signing_key_version
}

output "approval_signing_public_key" {
  description = "PEM of the approval desk's public key: every approval.granted / approval.rejected event's signature verifies with it."
  value       = data.google_kms_crypto_key_version.approval_votes.public_key[0].pem
}

output "checkpoint_public_key" {
  description = "PEM of the checkpoint signing key (Cloud KMS): publish it apart from the bucket; `gatehouse evidence verify --checkpoints <checkpoint_source> --public-key <this>`."
  value       = data.google_kms_crypto_key_version.checkpoints.public_key[0].pem
}

output "checkpoint_signing_key" {
  description = "The Cloud KMS key version checkpoints are signed with (GATEHOUSE_CHECKPOINT_KEY without its kms:// scheme; each checkpoint's keyId names it)."
  value       = local.checkpoint_signing_key_version
}

output "checkpoint_source" {
  description = "Where signed checkpoints are kept: the value of `--checkpoints` for `evidence verify` and `sessions show` (read with the auditor's own credentials)."
  value       = "gs://${google_storage_bucket.audit_exports.name}/${local.checkpoint_prefix}"
}
