#!/usr/bin/env bash
# Set up zentrale on a Debian machine: the system packages it uses (installed when run as root,
# listed otherwise), then a virtual environment in .venv with zentrale and its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

# What is needed, as "command package": debootstrap builds the sandbox Asterisk's root; ffmpeg
# transcodes audio (pydub); espeak-ng speaks the demo's prompts; PostgreSQL is the database
# tests' second engine.
# Chromium runs the browser tests of the QA pages (driven by Playwright, no browser download).
# systemd-analyze verifies the unit files in docker/systemd.
# docker.io (dockerd) and docker-compose (Compose v1: Debian 12 has no compose plugin) build and
# run the images of docker/ in the docker tests (scripts/images.sh, scripts/dockerd.sh).
# SIPp (sip-tester) and baresip are the real SIP user agents of the SIP tests (a carrier calling
# in through the sandbox's trunk, agents' phones that register); sox measures their audio.
# nodejs and npm build the agent page's softphone (JsSIP, bundled with esbuild; web/).
needs=("debootstrap debootstrap" "ffmpeg ffmpeg" "espeak-ng espeak-ng" "pg_ctlcluster postgresql"
       "chroot coreutils" "chromium chromium" "systemd-analyze systemd"
       "dockerd docker.io" "docker-compose docker-compose"
       "sipp sip-tester" "baresip baresip" "sox sox" "node nodejs" "npm npm")
missing=()
for need in "${needs[@]}"; do
  command -v "${need%% *}" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "${need%% *}" \
    >/dev/null 2>&1 || missing+=("${need##* }")
done
python=${PYTHON:-python3}
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "setup: please install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: zentrale needs Python 3.11 or newer ($python is $("$python" --version))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c 'import zentrale' || { echo "setup: installing zentrale failed" >&2; exit 1; }
# The agent page's softphone: JsSIP and esbuild at the exact versions of web/package-lock.json
# (npm ci checks their integrity hashes), bundled into the package's static files. The bundle is
# built, not committed: it is made from the pinned sources on every set-up (and in the image).
(cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run -s build >/dev/null) \
  || { echo "setup: building the softphone bundle (web/) failed" >&2; exit 1; }
# axe-core (pinned in web/package-lock.json, installed by the same `npm ci`): the browser tests'
# accessibility check loads web/node_modules/axe-core/axe.min.js into the pages.
[ -f web/node_modules/axe-core/axe.min.js ] \
  || { echo "setup: axe-core (web/node_modules/axe-core) is missing after npm ci" >&2; exit 1; }
echo "setup: ready (.venv/bin/zentrale)"
