# How the gateway reaches the target databases. Credentials come from the connection secrets
# (secrets.tf); a private address is reached through var.vpc_connector (functions.tf). For a Cloud
# SQL instance the gateway also gets Cloud SQL Client, on that instance only.

# Cloud SQL Client, per instance the connections name (IAM condition on that instance).
resource "google_project_iam_member" "gateway_cloud_sql" {
  for_each = toset([for c in values(var.connections) : c.cloud_sql_instance if c.cloud_sql_instance != null])
  project  = split(":", each.value)[0]
  role     = "roles/cloudsql.client"
  member   = google_service_account.gateway.member
  condition {
    title       = "only ${each.value}"
    description = "A database the Gatehouse policy names"
    expression  = "resource.name == \"projects/${split(":", each.value)[0]}/instances/${split(":", each.value)[2]}\""
  }
}
