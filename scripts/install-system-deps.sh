#!/usr/bin/env bash
# What the test suite needs beyond pip, installed on a fresh Debian machine (run as root):
# Java for Spark local mode, Debian's Chromium for the browser tests. (The HTTP benchmarks
# also need Debian's `hey`: apt-get install hey.)
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install these Debian packages first: ${need[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
