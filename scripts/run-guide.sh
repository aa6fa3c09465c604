#!/usr/bin/env bash
# The main job: set up, then guide a session. Extra arguments go to `voiceguide show`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/voiceguide show "${@:-upper-back}"
