# An approval request that Pub/Sub refused stays pending in the state database and is published
# again by the gateway's republisher. On Cloud Functions an instance has CPU only while it answers
# a request, so its timer cannot be relied on: every few minutes Cloud Scheduler calls
# POST /v1/approvals/republish as the republisher, which runs a pass and answers the counts.
# The ID token's audience is the approvals URL, which the policy must therefore list.

resource "google_cloud_scheduler_job" "approvals_republish" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-approvals-republish"
  description = "Publish Gatehouse approval requests still pending after a Pub/Sub failure"
  schedule    = var.republish_schedule
  time_zone   = "Etc/UTC"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "${local.approvals_url}/v1/approvals/republish"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")
    oidc_token {
      service_account_email = google_service_account.republisher.email
      audience              = local.approvals_url
    }
  }

  depends_on = [google_service_account_iam_member.scheduler_acts_as_republisher]
}
