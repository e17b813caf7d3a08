# Approval requests: the gateway publishes to one topic; a push subscription delivers each message
# to the notify function as the notifier (an OIDC token Cloud Run checks). Messages that still fail
# after max_delivery_attempts go to a dead-letter topic, whose own subscription keeps them for a week
# so nothing is silently lost.

resource "google_pubsub_topic" "approvals" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-approvals"
  message_retention_duration = "604800s"
}

resource "google_pubsub_topic" "approvals_dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-approvals-dead-letter"
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "notify" {
  project              = var.project_id
  name                 = "${var.name_prefix}-notify"
  topic                = google_pubsub_topic.approvals.id
  ack_deadline_seconds = 60

  push_config {
    push_endpoint = google_cloudfunctions2_function.this["notify"].service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.notifier.email
      audience              = google_cloudfunctions2_function.this["notify"].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.approvals_dead_letter.id
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = "" # never expires, however quiet approvals are
  }
}

resource "google_pubsub_subscription" "dead_letters" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-approvals-dead-letter-hold"
  topic                      = google_pubsub_topic.approvals_dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
}

# The gateway may publish approval requests, on this topic only.
resource "google_pubsub_topic_iam_member" "gateway_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.approvals.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.gateway.member
}

# The notifier is the notify subscription's consumer (and may pull dead letters to redeliver them
# by hand); on those two subscriptions only.
resource "google_pubsub_subscription_iam_member" "notifier_subscribes" {
  for_each     = toset([google_pubsub_subscription.notify.name, google_pubsub_subscription.dead_letters.name])
  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.notifier.member
}

# Dead-lettering is done by Pub/Sub's service agent: it must publish to the dead-letter topic and
# acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.approvals_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_forwards" {
  project      = var.project_id
  subscription = google_pubsub_subscription.notify.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
