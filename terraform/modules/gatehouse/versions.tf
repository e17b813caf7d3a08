terraform {
  required_version = ">= 1.5"
  required_providers {
    # 6.x: build_config.service_account on 2nd gen functions, google_cloud_run_v2_service_iam_member,
    # and Firestore databases with delete protection and point-in-time recovery.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}
