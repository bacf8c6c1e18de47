#!/usr/bin/env bash
# The main job on the bundled example app: detect & lint it (build, inspect and report follow as
# they land).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/engine.sh
boxwise detect examples/
