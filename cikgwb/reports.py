"""The paper's Table 1 figures, the mean over seeds of a multi-seed ``cikgwb train``, and our runs
beside the paper (:func:`compare_with_paper`, on :func:`cikgwb.results.runs_table`'s table)."""
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
# Table 1 rows of the first five baselines (LightGCN's completed with R@100 / N@100)
_TABLE1_BASELINES_1 = {
    "dbbook2014": {"lightgcn": (0.4214, 0.5358, 0.2230, 0.2481), "sgl": (0.4258, 0.5249, 0.2350, 0.2567),
                   "simgcl": (0.4280, 0.5369, 0.2376, 0.2610), "cke": (0.3419, 0.4448, 0.1832, 0.2060),
                   "cfkg": (0.3586, 0.4559, 0.1627, 0.1816)},
    "book-crossing": {"lightgcn": (0.1607, 0.2246, 0.0765, 0.0911), "sgl": (0.1613, 0.2154, 0.0860, 0.0982),
                      "simgcl": (0.1653, 0.2211, 0.0860, 0.0988), "cke": (0.1284, 0.1691, 0.0708, 0.0811),
                      "cfkg": (0.1216, 0.1771, 0.0503, 0.0617)},
    "ml1m": {"lightgcn": (0.4086, 0.5574, 0.3977, 0.4432), "sgl": (0.4094, 0.5505, 0.4004, 0.4433),
             "simgcl": (0.4131, 0.5560, 0.4048, 0.4482), "cke": (0.3948, 0.5421, 0.3841, 0.4295),
             "cfkg": (0.3930, 0.5439, 0.3672, 0.4142)},
}
for _dataset, _rows in _TABLE1_BASELINES_1.items():
    PAPER_TABLE1.setdefault(_dataset, {}).update(_rows)
# Table 1 rows of the knowledge-aware GNN baselines KGAT, KGIN, KGCL, MCCLK, KGRec
_TABLE1_BASELINES_2 = {
    "dbbook2014": {"kgat": (0.4174, 0.5309, 0.2110, 0.2360), "kgin": (0.4147, 0.5337, 0.2200, 0.2462),
                   "kgcl": (0.4308, 0.5271, 0.2453, 0.2666), "mcclk": (0.4376, 0.5491, 0.2054, 0.2273),
                   "kgrec": (0.4415, 0.5497, 0.2373, 0.2611)},
    "book-crossing": {"kgat": (0.1564, 0.2133, 0.0865, 0.1004), "kgin": (0.1468, 0.2075, 0.0681, 0.0819),
                      "kgcl": (0.1562, 0.2049, 0.0859, 0.0971), "mcclk": (0.1476, 0.2039, 0.0656, 0.0774),
                      "kgrec": (0.1473, 0.2075, 0.0699, 0.0836)},
    "ml1m": {"kgat": (0.4059, 0.5527, 0.3928, 0.4378), "kgin": (0.4095, 0.5581, 0.4004, 0.4453),
             "kgcl": (0.4083, 0.5496, 0.3996, 0.4430), "mcclk": (0.4176, 0.5655, 0.3876, 0.4339),
             "kgrec": (0.4136, 0.5633, 0.4072, 0.4524)},
}
for _dataset, _rows in _TABLE1_BASELINES_2.items():
    PAPER_TABLE1.setdefault(_dataset, {}).update(_rows)
# the paper's row order of Table 1 (CIKGRec first, then the baselines as the paper lists them)
TABLE1_ORDER = ("cikgrec", *_TABLE1_BASELINES_1["book-crossing"], *_TABLE1_BASELINES_2["book-crossing"])


def summarize_seeds(run_dirs: Iterable[str | Path], out_name: str) -> Path:
    """Summary over seeds of the test (and valid) metrics: per metric ``mean``, ``std``
    (ddof=1; 0 for one seed), ``min``, ``max`` and ``n``, and ``per_seed`` rows (run, seed,
    selected epoch, stop reason, each metric). Written to ``<reports>/runs/<out_name>-summary.json``
    and, one row per seed then the mean/std/min/max rows, ``-summary.csv``. Pairwise tests between
    two such seed sets: ``cikgwb compare`` (:mod:`cikgwb.compare`)."""
    run_dirs = [Path(d) for d in run_dirs]
    ms = [json.loads((d / "metrics.json").read_text()) for d in run_dirs]
    out = {"runs": [m["name"] for m in ms], "seeds": [m["seed"] for m in ms], "protocol": ms[0]["protocol"],
           "dataset": ms[0]["dataset"], "model": ms[0]["model"], "n_seeds": len(ms)}
    per_seed = [{"run": m["name"], "seed": m["seed"], "path": str(d), "selected_epoch": m.get("selected_epoch"),
                 "stop_reason": m.get("stop_reason"),
                 **{f"{split} {k}": v for split in ("test", "valid") for k, v in sorted(m.get(split, {}).items())}}
                for d, m in zip(run_dirs, ms)]
    for split in ("valid", "test"):
        keys = sorted(ms[0].get(split, {}))
        if keys:
            vals = {k: np.array([m[split][k] for m in ms if k in m.get(split, {})], dtype=float) for k in keys}
            out[split] = {k: {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                              "min": float(v.min()), "max": float(v.max()), "n": int(len(v))}
                          for k, v in vals.items()}
    out["per_seed"] = per_seed
    path = REPORTS / "runs" / f"{out_name}-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    rows = list(per_seed)
    for stat in ("mean", "std", "min", "max"):
        rows.append({"run": stat, **{f"{split} {k}": v[stat] for split in ("test", "valid")
                                     for k, v in out.get(split, {}).items()}})
    pd.DataFrame(rows).to_csv(path.with_suffix(".csv"), index=False)
    return path


_SOURCE = {"valid": "ours (selected on valid)", "authors": "ours (authors' protocol: selected on TEST)"}


def compare_with_paper(df: pd.DataFrame, models: Iterable[str] | None = None,
                       datasets: Iterable[str] | None = None) -> pd.DataFrame:
    """Our runs' test metrics beside the paper's Table 1, one row per (dataset, model, source).

    ``df`` is :func:`cikgwb.results.runs_table`'s table. For every dataset and model that has runs (restricted to
    ``models`` / ``datasets`` if given), the paper's row comes first (source ``paper (Table 1)``;
    none for a dataset or model the paper lacks), then one row per protocol (valid, then authors)
    with the mean over its seeds (``n_seeds`` says how many), plus
    ``d recall@50`` etc.: ours minus the paper. Under the authors' protocol the epoch is selected
    on the test split, as in the authors' code: that row is for comparison with the paper only.
    """
    cols = [f"test {k}" for k in HEADLINE]
    missing = {"dataset", "model", "protocol", "seed", *cols} - set(df.columns)
    if len(df) and missing:
        raise ValueError(f"compare_with_paper: the table lacks columns {sorted(missing)}; pass cikgwb.results.runs_table()'s table")
    runs = df
    if models is not None:
        runs = runs[runs["model"].isin(list(models))]
    if datasets is not None:
        runs = runs[runs["dataset"].isin(list(datasets))]
    rows = []
    groups = runs.groupby(["dataset", "model"], sort=True) if len(runs) else []
    for (dataset, model), group in groups:
        paper = PAPER_TABLE1.get(dataset, {}).get(model)
        ref = dict(zip(HEADLINE, paper)) if paper else {}
        if paper:
            rows.append({"dataset": dataset, "model": model, "source": "paper (Table 1)", "run": None, "n_seeds": None,
                         **{k: np.nan if ref[k] is None else ref[k] for k in HEADLINE}})
        order = {"valid": 0, "authors": 1}
        group = group.assign(_stem=group["run"].astype(str).str.replace(r"-s\d+$", "", regex=True)
                             if "run" in group else group["protocol"])
        keys = group[["protocol", "_stem"]].drop_duplicates().itertuples(index=False)
        for protocol, stem in sorted(keys, key=lambda k: (order.get(k[0], 2), str(k[0]), str(k[1]))):
            g = group[(group["protocol"] == protocol) & (group["_stem"] == stem)]
            ours = {k: float(g[f"test {k}"].astype(float).mean()) for k in HEADLINE}
            row = {"dataset": dataset, "model": model, "source": _SOURCE.get(protocol, f"ours ({protocol})"),
                   "run": stem, "n_seeds": int(g["seed"].nunique()), **ours}
            for k in HEADLINE:
                row[f"d {k}"] = ours[k] - ref[k] if ref.get(k) is not None else np.nan
            rows.append(row)
    out = pd.DataFrame(rows, columns=["dataset", "model", "source", "run", "n_seeds", *HEADLINE,
                                      *(f"d {k}" for k in HEADLINE)])
    return out.reset_index(drop=True)

