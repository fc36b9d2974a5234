#!/usr/bin/env bash
# Make sure a Docker daemon answers: start Debian's dockerd (package docker.io, installed by
# scripts/setup.sh as root) in the background when none is running, and wait for it.
# Its log goes to ${ZENTRALE_DOCKERD_LOG:-/var/log/zentrale-dockerd.log}.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
dockerd=$(PATH="$PATH:/usr/sbin:/sbin" command -v dockerd || true)
if [ -z "$dockerd" ]; then
  echo "dockerd: no Docker daemon answers and dockerd is not installed (run scripts/setup.sh as root)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "dockerd: no Docker daemon answers; starting one needs root" >&2
  exit 1
fi
log=${ZENTRALE_DOCKERD_LOG:-/var/log/zentrale-dockerd.log}
echo "dockerd: starting $dockerd (log: $log)"
setsid "$dockerd" >>"$log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd: the daemon did not answer within 60 s; the end of $log:" >&2
tail -n 20 "$log" >&2
exit 1
