# Secret containers only. Their values are added out of band (README: Deployment), so no secret
# value is ever in this code or in Terraform state. Each accessor binding names one secret.

resource "google_secret_manager_secret" "connection" {
  for_each  = var.connections
  project   = var.project_id
  secret_id = "${var.name_prefix}-db-${each.key}"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret" "masking_key" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-masking-key"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret" "notify" {
  for_each  = var.notify_channels
  project   = var.project_id
  secret_id = local.notify_secret_ids[each.value]
  replication {
    auto {}
  }
}

# The gateway reads the database credentials and the masking key …
resource "google_secret_manager_secret_iam_member" "gateway_reads_connection" {
  for_each  = google_secret_manager_secret.connection
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gateway.member
}

resource "google_secret_manager_secret_iam_member" "gateway_reads_masking_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.masking_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.gateway.member
}

# … and the notifier only the webhook URLs.
resource "google_secret_manager_secret_iam_member" "notifier_reads_webhooks" {
  for_each  = google_secret_manager_secret.notify
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.notifier.member
}
