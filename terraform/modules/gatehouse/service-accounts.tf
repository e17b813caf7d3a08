# One identity per job, each granted only what that job needs (the grants live next to the
# resource they are on). No service account keys: functions, Pub/Sub and Cloud Scheduler obtain
# tokens for these accounts from Google; people and bots use their own identities.

# Runs the query function. (The approvals function runs as its own account: approval-desk.tf.)
resource "google_service_account" "gateway" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-gateway"
  display_name = "Gatehouse gateway (query function)"
}

# Runs the notify function, and is the identity Pub/Sub pushes approval requests as.
resource "google_service_account" "notifier" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-notifier"
  display_name = "Gatehouse notifier (notify function, Pub/Sub push identity)"
}

# Builds the functions' containers (instead of the default compute account, which often holds Editor).
resource "google_service_account" "builder" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-builder"
  display_name = "Gatehouse function builds"
}

# Calls Firestore's export of the audit database on a schedule.
resource "google_service_account" "exporter" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-exporter"
  display_name = "Gatehouse audit database export"
}

# Calls the approvals function's republish endpoint on a schedule (approvals-republish.tf).
resource "google_service_account" "republisher" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-republisher"
  display_name = "Gatehouse approval request republisher (scheduled)"
}

# Pub/Sub mints the OIDC token of each push as the notifier; only its own service agent may.
resource "google_service_account_iam_member" "pubsub_mints_notifier_tokens" {
  service_account_id = google_service_account.notifier.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Cloud Scheduler mints the exporter's OAuth token and the republisher's ID token for each run.
resource "google_service_account_iam_member" "scheduler_acts_as_exporter" {
  service_account_id = google_service_account.exporter.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.scheduler_service_agent
}

resource "google_service_account_iam_member" "scheduler_acts_as_republisher" {
  service_account_id = google_service_account.republisher.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.scheduler_service_agent
}
