#!/usr/bin/env bash
# Installs crmlab into .venv and runs the main job end to end on the embedded default:
# SQLite tracking store (./mlflow.db), local artifacts, a generated customer world under ./data.
# Extra arguments become MLproject parameters, e.g. `bash scripts/quickstart.sh -P customers=20000`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}
mlflow run . -e main --env-manager local --experiment-name crmlab "$@"
echo ">> done. Browse the runs with: .venv/bin/mlflow ui --backend-store-uri $MLFLOW_TRACKING_URI"
