variable "project_id" {
  description = "The GCP project that holds every Gatehouse resource."
  type        = string
}

variable "region" {
  description = "Region of the functions, the source and export buckets, and the scheduler job, e.g. europe-west1."
  type        = string
}

variable "firestore_location" {
  description = "Location of the two Firestore databases: a region (europe-west1) or a multi-region (eur3, nam5)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, databases, topic, secrets, service accounts). Lower-case letters, digits and hyphens."
  type        = string
  default     = "gatehouse"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,16}$", var.name_prefix))
    error_message = "name_prefix must be 3-17 characters of a-z, 0-9 and '-', starting with a letter (service account ids are at most 30 characters)."
  }
}

variable "source_dir" {
  description = "The deployable source: the output directory of `npm run build -- --policy YOUR_POLICY.yaml` (compiled JavaScript, package.json, package-lock.json and the policy file)."
  type        = string
}

variable "connections" {
  description = <<-EOT
    The policy's connections, by name. Each gets a Secret Manager secret `<name_prefix>-db-<name>` that
    holds its postgres:// URL (the value is added out of band, never by Terraform). The policy names it
    as secret://projects/PROJECT/secrets/<name_prefix>-db-<name>/versions/latest (see the
    connection_secret_refs output). cloud_sql_instance ("PROJECT:REGION:INSTANCE") grants the gateway
    Cloud SQL Client on that instance only.
  EOT
  type = map(object({
    cloud_sql_instance = optional(string)
  }))
  validation {
    condition     = length(var.connections) > 0 && alltrue([for name in keys(var.connections) : can(regex("^[a-z][a-z0-9-]{0,30}$", name))])
    error_message = "connections needs at least one entry; names are lower-case letters, digits and '-' (they become secret ids)."
  }
}

variable "notify_channels" {
  description = "Where approval requests are posted: any of \"slack\" (secret <name_prefix>-slack-webhook) and \"webhook\" (secret <name_prefix>-webhook-url). Secret values are added out of band."
  type        = set(string)
  default     = ["slack"]
  validation {
    condition     = length(var.notify_channels) > 0 && alltrue([for c in var.notify_channels : contains(["slack", "webhook"], c)])
    error_message = "notify_channels must name at least one of \"slack\" and \"webhook\"."
  }
}

variable "bot_members" {
  description = "IAM members allowed to invoke the query function (and nothing else), e.g. serviceAccount:review-bot@PROJECT.iam.gserviceaccount.com. The policy still decides what each may run."
  type        = set(string)
  validation {
    condition     = alltrue([for m in var.bot_members : can(regex("^(serviceAccount|user|group|principal|principalSet):", m))])
    error_message = "bot_members are IAM members such as serviceAccount:NAME@PROJECT.iam.gserviceaccount.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "approver_members" {
  description = "IAM members allowed to invoke the approvals function (and nothing else), e.g. group:dba@example.com. The policy's approvers lists still decide who may approve what."
  type        = set(string)
  validation {
    condition     = alltrue([for m in var.approver_members : can(regex("^(serviceAccount|user|group|principal|principalSet):", m))])
    error_message = "approver_members are IAM members such as group:dba@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "auditor_members" {
  description = "IAM members who may read the audit Firestore database and the export bucket, e.g. group:auditors@example.com."
  type        = set(string)
  default     = []
  validation {
    condition     = alltrue([for m in var.auditor_members : can(regex("^(serviceAccount|user|group|principal|principalSet):", m))])
    error_message = "auditor_members are IAM members such as group:auditors@example.com; allUsers and allAuthenticatedUsers are refused."
  }
}

variable "audit_retention_days" {
  description = "How long each export in the audit bucket cannot be deleted or replaced. With retention_locked the period can only be raised, never lowered, and the bucket cannot be deleted before its objects expire."
  type        = number
  default     = 400
  validation {
    condition     = var.audit_retention_days >= 1 && var.audit_retention_days <= 3650
    error_message = "audit_retention_days must be between 1 and 3650."
  }
}

variable "retention_locked" {
  description = "Lock the audit bucket's retention policy. Irreversible: leave true in production; set false only for a throwaway test project."
  type        = bool
  default     = true
}

variable "export_schedule" {
  description = "Cron schedule (in export_time_zone) of the audit database export into the bucket."
  type        = string
  default     = "17 2 * * *"
}

variable "export_time_zone" {
  description = "Time zone of export_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "republish_schedule" {
  description = "Cron schedule (UTC) of the call that publishes approval requests still pending after a Pub/Sub failure."
  type        = string
  default     = "*/5 * * * *"
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/P/locations/R/connectors/C) through which the gateway reaches private database addresses (e.g. a Cloud SQL private IP). null: no connector."
  type        = string
  default     = null
}

variable "max_instances" {
  description = "Upper bound on instances per function."
  type        = number
  default     = 10
}

variable "approval_key_protection_level" {
  description = "Protection level of the approval desk's vote-signing key in Cloud KMS: SOFTWARE or HSM."
  type        = string
  default     = "SOFTWARE"
  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.approval_key_protection_level)
    error_message = "approval_key_protection_level must be SOFTWARE or HSM."
  }
}

variable "checkpoint_key_protection_level" {
  description = "Protection level of the checkpoint signing key in Cloud KMS: SOFTWARE or HSM."
  type        = string
  default     = "SOFTWARE"
  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.checkpoint_key_protection_level)
    error_message = "checkpoint_key_protection_level must be SOFTWARE or HSM."
  }
}

variable "checkpoint_schedule" {
  description = "Cron schedule (UTC) of the checkpoint function's runs: every minute by default (a run with nothing new re-signs only every 10 minutes)."
  type        = string
  default     = "* * * * *"
}
