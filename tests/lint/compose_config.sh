#!/usr/bin/env bash
# deploy/docker-compose.yml is a valid compose file: `docker compose config` (or the older
# `docker-compose config`) parses and validates it without a Docker engine. Exit 77 (skip) with
# a message when neither is installed.
# Usage: compose_config.sh <compose file>
set -euo pipefail

file=${1:?usage: $(basename "$0") <compose file>}
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif docker-compose version >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "SKIP: neither 'docker compose' (the docker CLI's compose plugin) nor 'docker-compose'" \
       "is installed, so $file cannot be validated here"
  exit 77
fi
echo "validating $file with: ${compose[*]} ($("${compose[@]}" version 2>/dev/null | head -1))"
"${compose[@]}" -f "$file" config -q
echo "PASS: ${compose[*]} config accepts $file"
