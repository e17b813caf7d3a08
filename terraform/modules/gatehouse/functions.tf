# The four functions (Cloud Functions 2nd gen, from the built source) and, for each, exactly who
# may invoke it: bots the query function, approvers the approvals function, Pub/Sub (as the
# notifier) the notify function. Gatehouse then verifies the caller's token again and the policy
# decides; Cloud Run's invoker check keeps everyone else from reaching the code at all. (The
# approvals function is also invoked by the republisher, on a schedule; the checkpoint function
# only by the checkpoint scheduler, checkpoints.tf.)

locals {
  # What shared/config.ts reads (README: Configuration for deployment). Written out in full for
  # each identity, so a reviewer sees exactly what each function is told.
  gateway_env = {
    NODE_ENV                    = "production" # the Functions Framework answers bad JSON without a stack trace
    GATEHOUSE_POLICY            = "gatehouse.policy.yaml"
    GATEHOUSE_SESSION_STORE     = "firestore"
    GATEHOUSE_APPROVAL_STORE    = "firestore"
    GATEHOUSE_FIRESTORE_PROJECT = var.project_id
    GATEHOUSE_AUDIT_DATABASE    = google_firestore_database.audit.name
    GATEHOUSE_STATE_DATABASE    = google_firestore_database.state.name
    GATEHOUSE_PUBSUB_TOPIC      = google_pubsub_topic.approvals.id
    GATEHOUSE_PUBLIC_URL        = local.approvals_url
    GATEHOUSE_MASKING_KEY       = "${local.secret_ref}/${google_secret_manager_secret.masking_key.secret_id}/versions/latest"
    # approval-desk.tf: the approvals function signs votes with it, the query function verifies.
    GATEHOUSE_APPROVAL_SIGNING_KEY = "kms://${local.approval_signing_key_version}"
  }

  # The notifier needs only the approval state and the webhook URLs.
  notify_env = {
    NODE_ENV                    = "production"
    GATEHOUSE_APPROVAL_STORE    = "firestore"
    GATEHOUSE_FIRESTORE_PROJECT = var.project_id
    GATEHOUSE_STATE_DATABASE    = google_firestore_database.state.name
    GATEHOUSE_SLACK_WEBHOOK     = contains(var.notify_channels, "slack") ? "${local.secret_ref}/${local.notify_secret_ids.slack}/versions/latest" : null
    GATEHOUSE_WEBHOOK_URL       = contains(var.notify_channels, "webhook") ? "${local.secret_ref}/${local.notify_secret_ids.webhook}/versions/latest" : null
  }

  # One type for all three (for_each needs it): env is a map of strings in each.
  functions = {
    query = {
      entry_point     = "query"
      service_account = google_service_account.gateway.email
      env             = tomap(local.gateway_env)
      description     = "Gatehouse: bots send SQL here"
    }
    approvals = {
      entry_point     = "approvals"
      service_account = google_service_account.approvals.email # its own: the only one that may sign votes
      env             = tomap(local.gateway_env)
      description     = "Gatehouse: people review and approve held statements here"
    }
    notify = {
      entry_point     = "notify"
      service_account = google_service_account.notifier.email
      env             = tomap({ for k, v in local.notify_env : k => v if v != null })
      description     = "Gatehouse: posts approval requests to the configured channels"
    }
    checkpoint = {
      entry_point     = "checkpoint"
      service_account = google_service_account.checkpoints.email # its own: the only one that may sign checkpoints
      env             = tomap(local.checkpoint_env)
      description     = "Gatehouse: signs checkpoints of the session log (checkpoints.tf)"
    }
  }
}

resource "google_cloudfunctions2_function" "this" {
  for_each    = local.functions
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-${each.key}"
  description = each.value.description

  build_config {
    runtime           = "nodejs20"
    entry_point       = each.value.entry_point
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = each.value.service_account
    environment_variables          = each.value.env
    available_memory               = "512Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances
    ingress_settings               = "ALLOW_ALL" # who may call is decided by IAM below, not by network
    all_traffic_on_latest_revision = true
    vpc_connector                  = contains(["notify", "checkpoint"], each.key) ? null : var.vpc_connector
    vpc_connector_egress_settings  = contains(["notify", "checkpoint"], each.key) || var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
  }

  # The builder's grants before the build; the runtime identities' secret grants before the
  # functions take traffic (a secret the function cannot read answers 503, nothing runs).
  depends_on = [
    google_storage_bucket_iam_member.builder_reads_source,
    google_artifact_registry_repository_iam_member.builder_pushes_images,
    google_project_iam_member.builder_writes_logs,
    google_secret_manager_secret_iam_member.gateway_reads_connection,
    google_secret_manager_secret_iam_member.gateway_reads_masking_key,
    google_secret_manager_secret_iam_member.notifier_reads_webhooks,
    google_secret_manager_secret_iam_member.approvals_reads_masking_key,
    google_kms_crypto_key_iam_member.approvals_signs_votes,
    google_kms_crypto_key_iam_member.gateway_reads_vote_key,
    google_kms_crypto_key_iam_member.checkpoints_signs,
    google_storage_bucket_iam_member.checkpoints_writes_bucket,
  ]
}

# Invokers. A 2nd gen function is a Cloud Run service of the same name; run.invoker on that one
# service is what lets a caller reach it. Never granted on the project: that would open all three.
resource "google_cloud_run_v2_service_iam_member" "query_invokers" {
  for_each = var.bot_members
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["query"].name
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_run_v2_service_iam_member" "approvals_invokers" {
  for_each = var.approver_members
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["approvals"].name
  role     = "roles/run.invoker"
  member   = each.value
}

# The scheduled republish (approvals-republish.tf) calls the approvals function too.
resource "google_cloud_run_v2_service_iam_member" "approvals_republisher" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["approvals"].name
  role     = "roles/run.invoker"
  member   = google_service_account.republisher.member
}

resource "google_cloud_run_v2_service_iam_member" "notify_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["notify"].name
  role     = "roles/run.invoker"
  member   = google_service_account.notifier.member
}
