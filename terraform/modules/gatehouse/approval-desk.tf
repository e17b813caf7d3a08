# The approval desk's own identity and signing key (issue 14). Every vote (approval.granted /
# approval.rejected) is signed by the approvals function with an asymmetric Cloud KMS key, and a
# redemption believes only votes that verify. So the approvals function runs as a service account
# of its own, the only one that may sign with that key; the query function (and anyone holding its
# database rights) may only read the public half. A vote appended to the log with the query path's
# rights cannot carry a valid signature, and runs nothing.

# Runs the approvals function (nothing else).
resource "google_service_account" "approvals" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-approvals"
  display_name = "Gatehouse approval desk (approvals function; signs votes)"
}

resource "google_kms_key_ring" "gatehouse" {
  project  = var.project_id
  name     = var.name_prefix
  location = var.region
}

# EC P-256 / SHA-256: what shared/adapters/vote-signing/kms.ts asks for and verifies. Key rings and
# keys cannot be deleted in KMS; prevent_destroy keeps Terraform from pretending to (and from
# destroying the versions, which would make every signed vote unverifiable).
resource "google_kms_crypto_key" "approval_votes" {
  name     = "${var.name_prefix}-approval-votes"
  key_ring = google_kms_key_ring.gatehouse.id
  purpose  = "ASYMMETRIC_SIGN"
  version_template {
    algorithm        = "EC_SIGN_P256_SHA256"
    protection_level = var.approval_key_protection_level
  }
  lifecycle {
    prevent_destroy = true
  }
}

locals {
  # Version 1, created with the key. Rotating means a new version and this reference changed:
  # approvals granted under the old version must then be asked for again.
  approval_signing_key_version = "${google_kms_crypto_key.approval_votes.id}/cryptoKeyVersions/1"
}

data "google_kms_crypto_key_version" "approval_votes" {
  crypto_key = google_kms_crypto_key.approval_votes.id
  version    = 1
}

# Only the approval desk signs, on this one key.
resource "google_kms_crypto_key_iam_member" "approvals_signs_votes" {
  crypto_key_id = google_kms_crypto_key.approval_votes.id
  role          = "roles/cloudkms.signerVerifier"
  member        = google_service_account.approvals.member
}

# The query function verifies votes with the public key; it can read that, and nothing more.
resource "google_kms_crypto_key_iam_member" "gateway_reads_vote_key" {
  crypto_key_id = google_kms_crypto_key.approval_votes.id
  role          = "roles/cloudkms.publicKeyViewer"
  member        = google_service_account.gateway.member
}

# What the approvals function needs of the rest, as the gateway had it: the audit database
# (create and read only), the state database, the approvals topic (republish), the masking key
# (the statement digest key is derived from it) — each conditioned or on one resource.
resource "google_project_iam_member" "approvals_appends_audit" {
  project = var.project_id
  role    = google_project_iam_custom_role.audit_appender.id
  member  = google_service_account.approvals.member
  condition {
    title       = "only the audit database"
    description = "Gatehouse session log: create and read only"
    expression  = local.audit_database_condition
  }
}

resource "google_project_iam_member" "approvals_uses_state" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.approvals.member
  condition {
    title       = "only the state database"
    description = "Gatehouse approval state"
    expression  = local.state_database_condition
  }
}

resource "google_pubsub_topic_iam_member" "approvals_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.approvals.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.approvals.member
}

resource "google_secret_manager_secret_iam_member" "approvals_reads_masking_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.masking_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.approvals.member
}
