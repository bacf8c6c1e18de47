#!/usr/bin/env bash
# The whole test suite on this machine: install what it needs, start the engine, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/engine.sh
exec python3 -m pytest "$@"
