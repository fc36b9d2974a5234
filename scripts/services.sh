#!/usr/bin/env bash
# Make sure the services the test suite talks to are up: PostgreSQL on 127.0.0.1:5432.
# (The sandbox Asterisk and the S3 server are started by the tests themselves.)
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "services: PostgreSQL is not installed (run scripts/setup.sh as root)" >&2
    exit 1
  fi
  echo "services: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432
