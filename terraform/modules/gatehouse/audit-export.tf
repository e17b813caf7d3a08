# Copies of the audit database outside Firestore: a scheduled export into a bucket whose retention
# policy is locked, so no one (this project's owners included) can delete or replace an export
# before audit_retention_days have passed. Together with the hash chains, `gatehouse evidence verify`
# can compare the live log with any export.

resource "google_storage_bucket" "audit_exports" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-audit-exports"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  retention_policy {
    is_locked        = var.retention_locked
    retention_period = var.audit_retention_days * 86400
  }

  # Older exports move to colder storage; they are never deleted by a rule before retention ends.
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }
}

# Export is Firestore's own operation; it needs the databases.export permission, on the audit
# database only, and nothing that could import (overwrite) it.
resource "google_project_iam_custom_role" "audit_exporter" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_audit_exporter"
  title       = "Gatehouse audit database exporter"
  description = "Start exports of the Gatehouse audit database; no import, no document access."
  permissions = [
    "datastore.databases.export",
    "datastore.databases.getMetadata",
  ]
}

resource "google_project_iam_member" "exporter_exports_audit" {
  project = var.project_id
  role    = google_project_iam_custom_role.audit_exporter.id
  member  = google_service_account.exporter.member
  condition {
    title       = "only the audit database"
    description = "Scheduled export of the Gatehouse session log"
    expression  = local.audit_database_condition
  }
}

# Firestore's service agent writes the export files; it may add objects, not delete them.
resource "google_project_iam_custom_role" "export_writer" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_export_writer"
  title       = "Gatehouse audit export writer"
  description = "Write Firestore export files into the Gatehouse audit bucket; no delete."
  permissions = [
    "storage.buckets.get",
    "storage.objects.create",
    "storage.objects.get",
    "storage.objects.list",
  ]
}

resource "google_storage_bucket_iam_member" "firestore_writes_exports" {
  bucket = google_storage_bucket.audit_exports.name
  role   = google_project_iam_custom_role.export_writer.id
  member = local.firestore_service_agent
}

resource "google_storage_bucket_iam_member" "auditors_read_exports" {
  for_each = var.auditor_members
  bucket   = google_storage_bucket.audit_exports.name
  role     = "roles/storage.objectViewer"
  member   = each.value
}

# Firestore names each export folder after its start time when given just the bucket.
resource "google_cloud_scheduler_job" "audit_export" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-audit-export"
  description = "Export the Gatehouse audit database into the retention-locked bucket"
  schedule    = var.export_schedule
  time_zone   = var.export_time_zone

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://firestore.googleapis.com/v1/projects/${var.project_id}/databases/${google_firestore_database.audit.name}:exportDocuments"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({ outputUriPrefix = "gs://${google_storage_bucket.audit_exports.name}" }))
    oauth_token {
      service_account_email = google_service_account.exporter.email
      scope                 = "https://www.googleapis.com/auth/datastore"
    }
  }

  depends_on = [google_service_account_iam_member.scheduler_acts_as_exporter]
}
