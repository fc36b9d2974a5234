#!/usr/bin/env bash
# The whole test run: set-up, lint, types, the architecture's import contracts, then every
# test (unit, real Asterisk, PostgreSQL, S3 server). Extra arguments go to pytest. Fails when
# any step fails or no test runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/services.sh
echo "== ruff"; .venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"; .venv/bin/mypy
echo "== import contracts (docs/architecture.md)"; .venv/bin/lint-imports --no-cache
echo "== pytest"
# pytest exits 5 when it collected no test; set -e turns that into a failed run.
# The slowest tests are listed at the end, to see where the time budget goes.
# Two workers (pytest-xdist), a test module to a worker: most tests wait on Asterisk, a browser
# or a timer rather than on the CPU, so two share the two-core machine well. Each worker has its
# own sandbox Asterisk and its own databases; ZENTRALE_TEST_WORKERS=0 runs in one process.
.venv/bin/python -m pytest -n "${ZENTRALE_TEST_WORKERS:-2}" --dist loadfile --durations=30 "$@"
