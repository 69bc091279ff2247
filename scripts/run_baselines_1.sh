#!/usr/bin/env bash
# Baselines I on the real data: LightGCN, SGL, SimGCL, CKE and CFKG on book-crossing and
# dbbook2014, seed 0, under the valid protocol (selection on valid, test once: the headline) and
# the authors' protocol (train on all of train.txt, select on TEST: comparison with Table 1 only).
# Runs go to $CIKGWB_REPORTS_DIR/runs/<dataset>-<model>-<protocol>-s0 (default reports/runs);
# at the end the test metrics are printed beside the paper's Table 1 rows.
#
# Settings (environment):
#   MODELS     default "lightgcn sgl simgcl cke cfkg"
#   DATASETS   default "book-crossing dbbook2014"
#   PROTOCOLS  default "valid authors"
#   DEVICE     auto (CUDA if present, else CPU; default), cpu or cuda
#   MAXMIN     cap each run at this many minutes (default: none; a capped run says so in its
#              metrics.json stop_reason: "time limit ... (not converged)")
#   PARALLEL   1: launch every run at once (one GPU shares well); default 0: one after another
#   PY         the Python to use (default .venv/bin/python if present, else python3)
#   FORCE      1: rerun runs that already have a metrics.json (default: skip them)
# A run interrupted before its metrics.json resumes from its last checkpoint.
set -u
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export CIKGWB_DATA_DIR=${CIKGWB_DATA_DIR:-$PWD/../shared/data}
REPORTS=${CIKGWB_REPORTS_DIR:-reports}
MODELS=${MODELS:-"lightgcn sgl simgcl cke cfkg"}
DATASETS=${DATASETS:-"book-crossing dbbook2014"}
PROTOCOLS=${PROTOCOLS:-"valid authors"}
DEVICE=${DEVICE:-auto}
PARALLEL=${PARALLEL:-0}
LOGS="$REPORTS/runs/logs"
mkdir -p "$LOGS"
echo "data: $CIKGWB_DATA_DIR  reports: $REPORTS  device: $DEVICE  python: $PY"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

pids=()
for d in $DATASETS; do
  for p in $PROTOCOLS; do
    for m in $MODELS; do
      name="$d-$m-$p"
      if [ -f "$REPORTS/runs/$name-s0/metrics.json" ] && [ "${FORCE:-0}" != 1 ]; then
        echo "skip $name-s0: finished (FORCE=1 reruns it)"
        continue
      fi
      args=(train --dataset "$d" --model "$m" --protocol "$p" --seeds 0 --name "$name" --device "$DEVICE" --quiet)
      [ "${FORCE:-0}" = 1 ] || args+=(--resume)
      [ -n "${MAXMIN:-}" ] && args+=(--set "max_minutes=$MAXMIN")
      echo "== $(date +%T) $name-s0"
      if [ "$PARALLEL" = 1 ]; then
        $PY -m cikgwb "${args[@]}" > "$LOGS/$name-s0.log" 2>&1 &
        pids+=($!)
      else
        $PY -m cikgwb "${args[@]}" 2>&1 | tee "$LOGS/$name-s0.log"
      fi
    done
  done
done
for pid in "${pids[@]}"; do wait "$pid"; done
grep -lE "Traceback|Error" "$LOGS"/*.log 2>/dev/null | sed 's/^/FAILED (see log): /'

echo "== test metrics beside the paper's Table 1 (authors' protocol rows select on TEST)"
MODELS="$MODELS" DATASETS="$DATASETS" $PY - <<'PY'
import os
from tabulate import tabulate
from cikgwb.reports import compare_with_paper, load_runs
from cikgwb.train import REPORTS
table = compare_with_paper(load_runs(REPORTS / "runs"), models=os.environ["MODELS"].split(),
                           datasets=os.environ["DATASETS"].split())
table = table.astype(object).where(table.notna(), None)
print(tabulate(table, headers="keys", showindex=False, floatfmt=".4f", missingval="-"))
PY
