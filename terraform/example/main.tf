# An example root: copy this folder, fill terraform.tfvars (see terraform.tfvars.example), then
#   npm run build -- --policy path/to/your-policy.yaml
#   terraform init && terraform apply
# The README's "Deployment" section walks through it end to end.

terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
  # Keep state in a bucket of your own (it holds no secret values, but it is the map of your
  # deployment): terraform init -backend-config="bucket=YOUR_STATE_BUCKET"
  backend "gcs" {
    prefix = "gatehouse"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# The APIs the deployment uses. Disabling them on destroy is left off: other things may use them.
resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "gatehouse" {
  source = "../modules/gatehouse"

  project_id           = var.project_id
  region               = var.region
  firestore_location   = var.firestore_location
  source_dir           = var.source_dir
  connections          = var.connections
  notify_channels      = var.notify_channels
  bot_members          = var.bot_members
  approver_members     = var.approver_members
  auditor_members      = var.auditor_members
  retention_locked     = var.retention_locked

  depends_on = [google_project_service.apis]
}
