"""The mean over seeds of a multi-seed ``cikgwb train``, and our runs
beside the paper (:func:`compare_with_paper`, on :func:`cikgwb.results.runs_table`'s table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .atomic import atomic_open, atomic_write_text
from .paper import HEADLINE, PAPER_TABLE1, TABLE1_ORDER  # noqa: F401  (TABLE1_ORDER: re-exported)
from .paths import runs_root

#: the metric blocks of a metrics.json: the reported test, and the selection split of each protocol
SPLITS = ("test", "valid", "sel_half")


def summarize_seeds(run_dirs: Iterable[str | Path], out_name: str) -> Path:
    """Summary over seeds of the test (and valid) metrics: per metric ``mean``, ``std``
    (ddof=1; 0 for one seed), ``min``, ``max`` and ``n``, and ``per_seed`` rows (run, seed,
    selected epoch, stop reason, each metric). Written to ``<reports>/runs/<out_name>-summary.json``
    and, one row per seed then the mean/std/min/max rows, ``-summary.csv``. Pairwise tests between
    two such seed sets: ``cikgwb compare`` (:mod:`cikgwb.compare`)."""
    run_dirs = [Path(d) for d in run_dirs]
    ms = [json.loads((d / "metrics.json").read_text()) for d in run_dirs]
    out = {
        "runs": [m["name"] for m in ms],
        "seeds": [m["seed"] for m in ms],
        "protocol": ms[0]["protocol"],
        "dataset": ms[0]["dataset"],
        "model": ms[0]["model"],
        "n_seeds": len(ms),
    }
    per_seed = [
        {
            "run": m["name"],
            "seed": m["seed"],
            "path": str(d),
            "selected_epoch": m.get("selected_epoch"),
            "stop_reason": m.get("stop_reason"),
            **{f"{split} {k}": v for split in SPLITS for k, v in sorted(m.get(split, {}).items())},
        }
        for d, m in zip(run_dirs, ms)
    ]
    for split in SPLITS:
        keys = sorted(ms[0].get(split, {}))
        if keys:
            vals = {k: np.array([m[split][k] for m in ms if k in m.get(split, {})], dtype=float) for k in keys}
            out[split] = {
                k: {
                    "mean": float(v.mean()),
                    "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    "min": float(v.min()),
                    "max": float(v.max()),
                    "n": int(len(v)),
                }
                for k, v in vals.items()
            }
    out["per_seed"] = per_seed
    path = runs_root() / f"{out_name}-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    rows = list(per_seed)
    for stat in ("mean", "std", "min", "max"):
        rows.append(
            {
                "run": stat,
                **{f"{split} {k}": v[stat] for split in SPLITS for k, v in out.get(split, {}).items()},
            }
        )
    with atomic_open(path.with_suffix(".csv")) as fh:
        pd.DataFrame(rows).to_csv(fh, index=False)
    return path


_SOURCE = {
    "users": "ours (users protocol: selected on half of the test users, reported on the other half)",
    "valid": "ours (selected on valid)",
    "authors": "ours (authors' protocol: selected on TEST)",
}


def compare_with_paper(
    df: pd.DataFrame, models: Iterable[str] | None = None, datasets: Iterable[str] | None = None
) -> pd.DataFrame:
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
        raise ValueError(
            f"compare_with_paper: the table lacks columns {sorted(missing)}; pass cikgwb.results.runs_table()'s table"
        )
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
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "source": "paper (Table 1)",
                    "run": None,
                    "n_seeds": None,
                    **{k: np.nan if ref[k] is None else ref[k] for k in HEADLINE},
                }
            )
        order = {"users": 0, "valid": 1, "authors": 2}
        group = group.assign(
            _stem=group["run"].astype(str).str.replace(r"-s\d+$", "", regex=True)
            if "run" in group
            else group["protocol"]
        )
        keys = group[["protocol", "_stem"]].drop_duplicates().itertuples(index=False)
        for protocol, stem in sorted(keys, key=lambda k: (order.get(k[0], 3), str(k[0]), str(k[1]))):
            g = group[(group["protocol"] == protocol) & (group["_stem"] == stem)]
            ours = {k: float(g[f"test {k}"].astype(float).mean()) for k in HEADLINE}
            row = {
                "dataset": dataset,
                "model": model,
                "source": _SOURCE.get(protocol, f"ours ({protocol})"),
                "run": stem,
                "n_seeds": int(g["seed"].nunique()),
                **ours,
            }
            for k in HEADLINE:
                row[f"d {k}"] = ours[k] - ref[k] if ref.get(k) is not None else np.nan
            rows.append(row)
    out = pd.DataFrame(
        rows, columns=["dataset", "model", "source", "run", "n_seeds", *HEADLINE, *(f"d {k}" for k in HEADLINE)]
    )
    return out.reset_index(drop=True)
