output "query_url" {
  description = "Bots: POST <query_url>/v1/query with an ID token for audience <query_url>."
  value       = module.gatehouse.query_url
}

output "approvals_url" {
  description = "Approvers: GATEHOUSE_URL for `gatehouse approvals …`."
  value       = module.gatehouse.approvals_url
}

output "function_uris" {
  description = "Each function's run.app URI."
  value       = module.gatehouse.function_uris
}

output "approvals_topic" {
  description = "The approvals Pub/Sub topic."
  value       = module.gatehouse.approvals_topic
}

output "dead_letter_topic" {
  description = "Undeliverable approval requests."
  value       = module.gatehouse.dead_letter_topic
}

output "service_accounts" {
  description = "Service account emails by role."
  value       = module.gatehouse.service_accounts
}

output "audit_database" {
  description = "The session log's Firestore database."
  value       = module.gatehouse.audit_database
}

output "audit_export_bucket" {
  description = "The retention-locked export bucket."
  value       = module.gatehouse.audit_export_bucket
}

output "secret_ids" {
  description = "Secrets to fill in out of band."
  value       = module.gatehouse.secret_ids
}

output "connection_secret_refs" {
  description = "Credentials references for the policy's connections."
  value       = module.gatehouse.connection_secret_refs
}

output "approval_signing_public_key" {
  description = "PEM of the approval desk's vote-signing public key (Cloud KMS)."
  value       = module.gatehouse.approval_signing_public_key
}

output "checkpoint_public_key" {
  description = "PEM of the checkpoint signing key: publish it; `gatehouse evidence verify DIR --checkpoints <checkpoint_source> --public-key FILE`."
  value       = module.gatehouse.checkpoint_public_key
}

output "checkpoint_source" {
  description = "gs://bucket/prefix where signed checkpoints are kept (the value of --checkpoints)."
  value       = module.gatehouse.checkpoint_source
}
