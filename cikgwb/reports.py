"""Collect run results from ``reports/runs`` into tables (Table 1 / Table 3 style)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .train import REPORTS

PAPER_TABLE1 = {
    # dataset -> model -> (R@50, R@100, N@50, N@100), the paper's Table 1 (authors' protocol)
    "dbbook2014": {"cikgrec": (0.4642, 0.5756, 0.2494, 0.2739), "lightgcn": (0.4214, None, 0.2230, None)},
    "book-crossing": {"cikgrec": (0.1791, 0.2455, 0.0889, 0.1041), "lightgcn": (0.1607, None, 0.0765, None)},
    "ml1m": {"cikgrec": (0.4250, 0.5718, 0.4162, 0.4609), "lightgcn": (0.4086, None, 0.3977, None)},
}
HEADLINE = ("recall@50", "recall@100", "ndcg@50", "ndcg@100")


def load_runs(root: str | Path | None = None) -> pd.DataFrame:
    """One row per finished run (a metrics.json under ``root``)."""
    root = Path(root) if root else REPORTS / "runs"
    rows = []
    for p in sorted(root.glob("*/metrics.json")):
        m = json.loads(p.read_text())
        row = {"run": p.parent.name, "dataset": m.get("dataset"), "model": m.get("model"),
               "protocol": m.get("protocol"), "views": m.get("views"), "seed": m.get("seed"),
               "interests": m.get("interests"), "selected_epoch": m.get("selected_epoch"),
               "stop_reason": m.get("stop_reason"), "device": m.get("device"),
               "wall_seconds": m.get("wall_seconds")}
        for k in HEADLINE:
            row[f"test {k}"] = m.get("test", {}).get(k)
            row[f"valid {k}"] = m.get("valid", {}).get(k)
        rows.append(row)
    return pd.DataFrame(rows)


def summarize_seeds(run_dirs: Iterable[str | Path], out_name: str) -> Path:
    """Mean and standard deviation over seeds of the test (and valid) metrics."""
    ms = [json.loads((Path(d) / "metrics.json").read_text()) for d in run_dirs]
    out = {"runs": [m["name"] for m in ms], "seeds": [m["seed"] for m in ms], "protocol": ms[0]["protocol"],
           "dataset": ms[0]["dataset"], "model": ms[0]["model"]}
    for split in ("valid", "test"):
        keys = sorted(ms[0].get(split, {}))
        if keys:
            vals = {k: np.array([m[split][k] for m in ms]) for k in keys}
            out[split] = {k: {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
                          for k, v in vals.items()}
    path = REPORTS / "runs" / f"{out_name}-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    return path
