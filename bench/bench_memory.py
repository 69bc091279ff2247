"""Peak memory of full CIKGRec on a dataset (default ml1m): build, a few training batches, one
full evaluation. The target for ml1m is under 8 GiB.

    python bench/bench_memory.py --dataset ml1m --batches 5
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cikgwb.data import load_dataset  # noqa: E402
from cikgwb.evaluate import evaluate  # noqa: E402
from cikgwb.models import (
    build_model,  # noqa: E402
    default_config,  # noqa: E402
)
from cikgwb.train import PairSampler, pick_device  # noqa: E402


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ml1m")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    dev = pick_device(args.device)
    t0 = time.time()
    ds = load_dataset(args.dataset)
    cfg = default_config(args.dataset, "cikgrec")
    out = {"dataset": args.dataset, "device": str(dev), "after_load_gib": rss_gib()}
    torch.manual_seed(0)
    m = build_model("cikgrec", ds, cfg.model, ds.train, dev)
    opt = torch.optim.Adam(m.parameters(), lr=cfg.train.lr)
    out["after_build_gib"] = rss_gib()
    s = PairSampler(ds.train, ds.n_items, cfg.train.batch_size, dev)
    g = torch.Generator().manual_seed(0)
    tb = time.time()
    for k, (u, p, n) in enumerate(s.epoch(g)):
        loss = m.loss(u, p, n, 0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k + 1 >= args.batches:
            break
    out["seconds_per_batch"] = (time.time() - tb) / args.batches
    out["batches_per_epoch"] = len(s)
    out["after_train_gib"] = rss_gib()
    m.eval()
    with torch.no_grad():
        res = evaluate(m.score_fn(), ds.matrix("valid"), ds.matrix("train"), device=dev)
    out["eval_seconds"] = res.seconds
    out["peak_rss_gib"] = rss_gib()
    if dev.type == "cuda":
        out["peak_cuda_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    out["wall_seconds"] = time.time() - t0
    print(json.dumps(out, indent=2))
    Path("reports/bench").mkdir(parents=True, exist_ok=True)
    Path(f"reports/bench/memory-{args.dataset}-{dev.type}.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
