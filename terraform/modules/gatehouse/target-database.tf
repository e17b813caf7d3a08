# How the gateway reaches the target databases. Credentials come from the connection secrets
# (secrets.tf); a private address is reached through var.vpc_connector (functions.tf). For a Cloud
# SQL instance the gateway also gets Cloud SQL Client, on that instance only.
#
# No database user is created here, on purpose: Terraform runs no SQL, so it could neither grant
# table privileges nor revoke EXECUTE on dblink, large-object, file and signal functions, and a
# google_sql_user with a password would put that password in Terraform state. The role is created
# after apply with docs/least-privilege.sql and checked with `gatehouse doctor` (README, deployment
# step 6; docs/least-privilege.md).

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
