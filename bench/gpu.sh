#!/usr/bin/env bash
# `make bench-gpu`: the GPU check of the CIKGRec issue, as one script for a lent GPU machine.
#  1. epoch and evaluation seconds of CIKGRec on the GPU (ours vs the LGConv reference-style step)
#  2. the real-data training runs, in parallel on the one GPU, each capped at MAXMIN minutes
#     (a capped run says so in its metrics.json: stop_reason "time limit ... (not converged)")
# Results: $OUT (default reports/gpu): bench/*.json, logs, runs.tgz (run folders without checkpoints).
set -u
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export CIKGWB_DATA_DIR=${CIKGWB_DATA_DIR:-$PWD/data}
OUT=${OUT:-reports/gpu}
MAXMIN=${MAXMIN:-5.5}
BENCH_DATASETS=${BENCH_DATASETS:-"book-crossing dbbook2014 ml1m"}
TRAIN_DATASETS=${TRAIN_DATASETS:-"book-crossing dbbook2014"}
mkdir -p "$OUT/logs" "$OUT/reports"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch, torch_geometric as g; print('torch', torch.__version__, 'pyg', g.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

START=$(date +%s)
echo "== bench $(date +%T)"
timeout "${BENCH_TIMEOUT:-180}" $PY bench/bench_train.py --datasets $BENCH_DATASETS --ref-batches 4 --out "$OUT/bench" 2>&1 | tee "$OUT/logs/bench.log"
echo "== InfoNCE forward + backward on the GPU: naive, fused (previous), tiled fp32 / bf16 $(date +%T)"
timeout 120 $PY bench/bench_train.py --infonce --device cuda 2>&1 | tee "$OUT/logs/infonce.log"
if [ "${BUDGET_S:-0}" -gt 0 ]; then  # fit the runs into what is left of the call's time budget
  MAXMIN=$($PY -c "print(round(max(0.5, (${BUDGET_S} - ($(date +%s) - $START) - ${RESERVE_S:-90}) / 60), 2))")
fi

echo "== training runs $(date +%T), each capped at $MAXMIN min"
export CIKGWB_REPORTS_DIR="$OUT/reports"
pids=()
launch() {  # name, args...
  local name=$1; shift
  $PY -m cikgwb train --quiet --set max_minutes=$MAXMIN --name "$name" "$@" > "$OUT/logs/$name.log" 2>&1 &
  pids+=($!)
}
for d in $TRAIN_DATASETS; do
  launch "$d-cikgrec-valid"                 --dataset "$d" --model cikgrec
  launch "$d-cikgrec-valid-authorsviews"    --dataset "$d" --model cikgrec --set views=authors
  launch "$d-cikgrec-authors-paperviews"    --dataset "$d" --model cikgrec --protocol authors --set views=paper
  launch "$d-cikgrec-authors-authorsviews"  --dataset "$d" --model cikgrec --protocol authors --set views=authors
  launch "$d-lightgcn-valid"                --dataset "$d" --model lightgcn
  launch "$d-lightgcn-authors"              --dataset "$d" --model lightgcn --protocol authors
done
for p in "${pids[@]}"; do wait "$p"; done
echo "== done $(date +%T)"
tar czf "$OUT/runs.tgz" --exclude=checkpoints -C "$OUT/reports" runs
for f in "$OUT"/reports/runs/*/metrics.json; do
  $PY - "$f" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
t = m["test"]
print(f"{m['name']:<45} ep {m['selected_epoch']:>4} {m['stop_reason'][:30]:<30} R@50 {t['recall@50']:.4f} R@100 {t['recall@100']:.4f} N@50 {t['ndcg@50']:.4f} N@100 {t['ndcg@100']:.4f}")
PY
done
tail -n 3 "$OUT"/logs/*.log | grep -iE "error|Traceback" | head -20
exit 0
