# Names and references every file of the module shares. Each other file holds one concern:
# service-accounts.tf (who runs what), source.tf (the built code), functions.tf (the four
# functions and who may invoke each), firestore.tf (the audit and state databases),
# pubsub.tf (approval requests), secrets.tf (secret containers and who may read each),
# audit-export.tf (the retention-locked bucket and the scheduled export), approvals-republish.tf
# (the scheduled republish of approval requests Pub/Sub refused), approval-desk.tf (the approvals
# function's own identity and its vote-signing Cloud KMS key), checkpoints.tf (the checkpoint
# function's identity, its signing key, its schedule and where checkpoints are stored).

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number

  audit_database = "${var.name_prefix}-audit"
  state_database = "${var.name_prefix}-state"

  # IAM conditions naming one Firestore database: a role bound with one of these applies to that
  # database only, not to the project's other databases.
  audit_database_condition = "resource.name == \"projects/${var.project_id}/databases/${local.audit_database}\""
  state_database_condition = "resource.name == \"projects/${var.project_id}/databases/${local.state_database}\""

  # The cloudfunctions.net URLs are known before the functions exist, so the gateway can be told
  # its own public URL without a dependency cycle. Bots ask for ID tokens with audience = query_url.
  query_url     = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}-query"
  approvals_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}-approvals"

  # Google-managed identities that act on our behalf.
  pubsub_service_agent    = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  firestore_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-firestore.iam.gserviceaccount.com"
  scheduler_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"

  secret_ref = "secret://projects/${var.project_id}/secrets"
  # By channel (var.notify_channels): the secret holding that webhook's URL.
  notify_secret_ids = {
    slack   = "${var.name_prefix}-slack-webhook"
    webhook = "${var.name_prefix}-webhook-url"
  }
}
