# Each is passed to the module unchanged; its description there says more
# (terraform/modules/gatehouse/variables.tf). The module's other variables keep their defaults.

variable "project_id" {
  description = "The GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions and buckets."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Location of the audit and state Firestore databases."
  type        = string
  default     = "eur3"
}

variable "source_dir" {
  description = "Output directory of `npm run build -- --policy YOUR_POLICY.yaml`, relative to this folder."
  type        = string
  default     = "../../build/functions"
}

variable "connections" {
  description = "The policy's connections by name; each gets a secret <prefix>-db-<name> for its postgres:// URL."
  type = map(object({
    cloud_sql_instance = optional(string)
  }))
}

variable "notify_channels" {
  description = "Where approval requests are posted: \"slack\" and/or \"webhook\"."
  type        = set(string)
  default     = ["slack"]
}

variable "bot_members" {
  description = "Who may invoke the query function, e.g. serviceAccount:review-bot@PROJECT.iam.gserviceaccount.com."
  type        = set(string)
}

variable "approver_members" {
  description = "Who may invoke the approvals function, e.g. group:dba@example.com."
  type        = set(string)
}

variable "auditor_members" {
  description = "Who may read the audit database and the export bucket, e.g. group:auditors@example.com."
  type        = set(string)
  default     = []
}

variable "retention_locked" {
  description = "Lock the audit export bucket's retention policy (irreversible). false only in a throwaway project."
  type        = bool
  default     = true
}
