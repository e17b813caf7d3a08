# Two Firestore databases (docs/design.md#the-session-log-is-create-only): the session log in one where the gateway may only create
# and read documents, and the mutable approval state in another. Server client libraries bypass
# security rules, so the create-only property is IAM's: a custom role without update or delete,
# bound with a condition naming the audit database.

resource "google_firestore_database" "audit" {
  project                           = var.project_id
  name                              = local.audit_database
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON" # `terraform destroy` never deletes the audit trail
}

resource "google_firestore_database" "state" {
  project                           = var.project_id
  name                              = local.state_database
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

# The queries the adapters run that single-field indexes cannot serve:
# sessions of one requester in time order (shared/adapters/firestore/list.ts) …
resource "google_firestore_index" "sessions_by_subject" {
  project    = var.project_id
  database   = google_firestore_database.audit.name
  collection = "sessions"
  fields {
    field_path = "subject"
    order      = "ASCENDING"
  }
  fields {
    field_path = "startedAt"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# … and approvals in given states, oldest first (shared/adapters/firestore-approvals/list.ts).
resource "google_firestore_index" "approvals_by_state" {
  project    = var.project_id
  database   = google_firestore_database.state.name
  collection = "approvals"
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "createdAt"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

# Create and read, never update or delete. databases.get is what Firestore checks to begin or roll
# back a transaction (an append commits its creates as one); it reads no data.
resource "google_project_iam_custom_role" "audit_appender" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_audit_appender"
  title       = "Gatehouse audit log appender"
  description = "Create and read documents in the Gatehouse audit database; no update, no delete."
  permissions = [
    "datastore.databases.get",
    "datastore.entities.create",
    "datastore.entities.get",
    "datastore.entities.list",
  ]
}

resource "google_project_iam_member" "gateway_appends_audit" {
  project = var.project_id
  role    = google_project_iam_custom_role.audit_appender.id
  member  = google_service_account.gateway.member
  condition {
    title       = "only the audit database"
    description = "Gatehouse session log: create and read only"
    expression  = local.audit_database_condition
  }
}

# Approval state is mutable (votes, redemption) by design; only the two functions touch it.
resource "google_project_iam_member" "gateway_uses_state" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.gateway.member
  condition {
    title       = "only the state database"
    description = "Gatehouse approval state"
    expression  = local.state_database_condition
  }
}

resource "google_project_iam_member" "notifier_uses_state" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.notifier.member
  condition {
    title       = "only the state database"
    description = "Gatehouse approval state: which channels were posted"
    expression  = local.state_database_condition
  }
}

resource "google_project_iam_member" "auditors_read_audit" {
  for_each = var.auditor_members
  project  = var.project_id
  role     = "roles/datastore.viewer"
  member   = each.value
  condition {
    title       = "only the audit database"
    description = "Auditors read the Gatehouse session log"
    expression  = local.audit_database_condition
  }
}
