#!/usr/bin/env bash
# The prepared job for a lent GPU machine (`make gpu-campaign OUT=folder BUDGET_S=480`): ML-1M
# (CIKGRec and LightGCN, the leak-free `users` protocol, seed 0) first, then as many runs of Table 1's
# users-protocol queue (seeds 0-4) as the budget allows, SLOTS runs packed on the card at a time.
#
#   scripts/gpu_campaign.sh OUT [BUDGET_S]
#
# OUT gets runs/<run>/ (config, history, metrics, campaign.log; checkpoints/ only for runs cut by
# the budget, so that a later call given RESUME=<this OUT> continues them), campaign.log and machine.txt. Every run gets
# max_minutes = what is left of BUDGET_S (default 480 s), so the whole job ends inside it.
# Environment:
#   CIKGWB_DATA_DIR  the datasets (default ./.gpu-data: copy ../shared/data/{ml1m,book-crossing,
#                    dbbook2014} there and carry it; the device machine cannot see ../shared)
#   QUEUES           queue files in order (default scripts/campaign/{ml1m,users}.txt: the users protocol;
#                    table3.txt and seeds.txt are the valid protocol's)
#   SLOTS            runs at a time (default 8); THREADS per run (default 2); DEVICE (default auto)
#   RESUME           a folder holding runs/ of an earlier call (with checkpoints) to continue
#   EXTRA            more scripts/campaign.py arguments (e.g. "--set max_epochs=2" for a smoke test)
#   PY               the Python (default python3)
set -u
OUT=${1:?usage: scripts/gpu_campaign.sh OUT [BUDGET_S]}
BUDGET_S=${2:-480}
cd "$(dirname "$0")/.."
START=$(date +%s)
PY=${PY:-python3}
export CIKGWB_DATA_DIR=${CIKGWB_DATA_DIR:-$PWD/.gpu-data}
export CIKGWB_CHECKPOINT_DIR=${CIKGWB_CHECKPOINT_DIR:-/tmp/cikgwb-gpu-checkpoints}
QUEUES=${QUEUES:-"scripts/campaign/ml1m.txt scripts/campaign/users.txt"}
mkdir -p "$OUT/runs"
[ -d "$CIKGWB_DATA_DIR" ] || { echo "gpu_campaign: CIKGWB_DATA_DIR=$CIKGWB_DATA_DIR: no such folder (copy the datasets there)"; exit 2; }
if [ -n "${RESUME:-}" ]; then
  [ -d "$RESUME/runs" ] || { echo "gpu_campaign: RESUME=$RESUME has no runs/ folder"; exit 2; }
  cp -r "$RESUME/runs/." "$OUT/runs/"
fi
{ date -u +%FT%TZ; nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, torch_geometric as g; print('torch', torch.__version__, 'pyg', g.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  echo "git $(git rev-parse --short HEAD 2>/dev/null)  budget ${BUDGET_S}s  slots ${SLOTS:-8} x ${THREADS:-2} threads"
} | tee "$OUT/machine.txt"
for q in $QUEUES; do cat "$q"; echo; done > "$OUT/queue.txt"
LEFT=$(( BUDGET_S - ($(date +%s) - START) ))
# shellcheck disable=SC2086
$PY scripts/campaign.py "$OUT/queue.txt" --reports-dir "$OUT" --slots "${SLOTS:-8}" --threads "${THREADS:-2}" \
    --budget-s "$LEFT" --reserve-s "${RESERVE_S:-45}" --device "${DEVICE:-auto}" ${EXTRA:-} 2>&1 | tee "$OUT/campaign.log"
rc=${PIPESTATUS[0]}
# checkpoints travel back only for runs that a later call must continue: into <run>/checkpoints/,
# where --resume looks when the recorded folder is gone (RESUME=that OUT on the next machine)
for d in "$OUT"/runs/*/; do
  $PY - "$d" <<'PY'
import shutil, sys
from pathlib import Path
sys.path.insert(0, "scripts")
from campaign import finished
from cikgwb.train import checkpoint_dir
run = Path(sys.argv[1])
cut = not finished(run)   # the queue's own rule: cut by the budget, interrupted, or never finished
src = checkpoint_dir(run)
if cut and src.is_dir() and src.resolve() != (run / "checkpoints").resolve():
    (run / "checkpoints").mkdir(exist_ok=True)
    for f in src.glob("*.pt"):
        shutil.move(str(f), run / "checkpoints" / f.name)
    (run / "checkpoints.json").unlink(missing_ok=True)
elif not cut:
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
PY
done
rm -rf "$CIKGWB_CHECKPOINT_DIR"
echo "gpu_campaign: done in $(( $(date +%s) - START ))s (rc $rc); runs in $OUT/runs"
exit "$rc"
