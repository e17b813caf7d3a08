#!/usr/bin/env bash
# For Cloud Build (cloudbuild.yaml, step "test"), in a node:20-bookworm container running as root:
# the real components the tests use, from Debian (PostgreSQL 15, Java 17, Chromium) and from
# Google's apt repository (the Firestore and Pub/Sub emulators, installed where the test harness
# looks: /usr/lib/google-cloud-sdk/platform/). On a development machine use your own packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq ca-certificates curl gnupg >/dev/null
curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --dearmor -o /usr/share/keyrings/cloud.google.gpg
echo "deb [signed-by=/usr/share/keyrings/cloud.google.gpg] https://packages.cloud.google.com/apt cloud-sdk main" \
  > /etc/apt/sources.list.d/google-cloud-sdk.list
apt-get update -qq
apt-get install -y -qq postgresql-15 openjdk-17-jre-headless chromium \
  google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator >/dev/null
for required in /usr/lib/postgresql/15/bin/initdb \
  /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator \
  /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator; do
  [ -e "$required" ] || { echo "install-ci-services: $required is missing after install" >&2; exit 1; }
done
echo "install-ci-services: PostgreSQL 15, Java 17, Chromium, Firestore and Pub/Sub emulators installed"
