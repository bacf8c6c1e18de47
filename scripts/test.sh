#!/usr/bin/env bash
# The whole test suite on this machine: install what it needs, start the engine, lint, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/engine.sh
# ruff first: a style or import error is found in seconds, not after the suite
python3 -m ruff check .
python3 -m ruff format --check --quiet .
python3 -m mypy  # strict on src/, as [tool.mypy] in pyproject.toml says
exec python3 -m pytest "$@"
