#!/usr/bin/env bash
# Serve the run explorer (notebooks/explorer.ipynb) with Voila on this machine only:
#   scripts/explorer.sh [VOILA OPTIONS]      then open http://127.0.0.1:8866/?run=RUN&user=ID
# Settings (voila.json beside this repository's root): idle kernels culled after 5 min, a kernel
# shut down when its page is left, only Voila's widget extensions loaded. This script adds the
# repository's page template (share/jupyter/voila/templates/cikgwb: Voila's lab template without
# its CDN stylesheet links), found through JUPYTER_PATH, so the page fetches nothing from outside.
set -euo pipefail
cd "$(dirname "$0")/.."
export JUPYTER_PATH="$PWD/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
VOILA="${VOILA:-$( [ -x .venv/bin/voila ] && echo .venv/bin/voila || echo voila )}"
exec "$VOILA" notebooks/explorer.ipynb --template=cikgwb --no-browser --Voila.ip=127.0.0.1 "$@"
