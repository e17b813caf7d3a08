#!/usr/bin/env bash
# System packages the tests use that npm cannot install: Debian's Chromium (the evidence report is
# rendered headless with playwright-core; playwright's own browser download is not reachable here).
# PostgreSQL's server binaries are used when present. Without root or apt, the tests that need a
# missing package are reported as skipped, by name.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the report rendering tests …"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "WARNING: could not install chromium; the report rendering tests will be skipped"
else
  echo "WARNING: chromium is not installed and cannot be installed here; the report rendering tests will be skipped"
fi
exit 0
