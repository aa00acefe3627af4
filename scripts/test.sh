#!/usr/bin/env bash
# Installs crmlab (with test tools) into .venv, lints, and runs the whole test suite.
# Tests that need PostgreSQL use 127.0.0.1:5432 (database `test`); `.ci/run` starts it when it is down.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ruff check .
python -m pytest -n 2 --dist loadfile "$@"
