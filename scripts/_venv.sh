# Sourced by the other scripts: create .venv (Python 3.11) if needed, install crmlab, activate it.
set -euo pipefail
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
echo ">> installing crmlab and its pinned dependencies into .venv (first time: a few minutes)"
python -m pip install -q --disable-pip-version-check -U pip
python -m pip install -q --disable-pip-version-check -e ".[dev,spark]"
export DO_NOT_TRACK=1
