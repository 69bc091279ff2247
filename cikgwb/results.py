"""Tables and figure data from finished runs, for the notebooks and ``cikgwb results``: Table 1
and Table 3 cells marked with dataset, protocol, seeds and device (the paper's figures beside
them come from :mod:`cikgwb.paper`), and per-user test metrics per sparsity group (Figure 3).

Finding runs (the run index, :func:`cikgwb.runs.find_run`), reloading a trained model and
training the notebooks' runs are :mod:`cikgwb.runs`' job; their names are re-exported here.
Checkpoints are not committed, so what needs a model (per-user metrics) is cached next to the
run as small files (``sparsity_groups.csv``) that can be committed with it.

Variants (Table 3) are read from the run's config, not its name:

============  ====================================================================
variant       config
============  ====================================================================
full          CIKGRec with every part on and the exponential (or given) schedule
w/o UIK       ``no_interests`` (no interest node anywhere)
w/o UIR       ``no_uir`` (no interest reconstruction)
w/o CL        ``no_cl`` (no cross-domain contrast)
w/o DMR       ``schedule: fixed`` (mask rate fixed at alpha)
linear        ``schedule: lin`` (linear instead of exponential mask-rate growth)
``-``         a baseline with its model's ``DEFAULTS``
``lr=...``    a baseline with other settings (the ones that differ from ``DEFAULTS``)
============  ====================================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data.registry import real_names
from .paper import HEADLINE, PAPER_TABLE1, PAPER_TABLE3, TABLE1_ORDER, VARIANTS

# the run layer's functions, re-exported for the notebooks that import them from here
from .run_folder import run_status
from .run_spec import baseline_variant  # noqa: F401
from .runs import (  # noqa: F401
    PROVENANCE_MARKS,
    VARIANT_OVERRIDES,
    has_checkpoint,
    load_run,
    parse_label,
    run_index,
    runs_table,
    train_runs,
    variant_of,
)

#: how a run ended (:func:`cikgwb.run_folder.run_status`), as the results table says it
HOW_IT_ENDED = {
    "early-stopped": "early stop",
    "closed-form": "closed form (fitted once)",
    "time-limit": "cut: time limit",
}

#: the real datasets (the dataset registry's one list: cikgwb.data.registry)
REAL_DATASETS = tuple(real_names())
SPARSITY_FILE = "sparsity_groups.csv"


def _seed(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def results_markdown(runs: pd.DataFrame, datasets: list[str] | None = None, models: list[str] | None = None) -> str:
    """Every finished run (one row each, Table 1 metrics at its selected epoch) with the
    paper's Table 1 figures below each (dataset, model): the README's results table, from
    ``cikgwb results``. ``epochs``: selected / run, and how the run ended. A seed marked
    :data:`PROVENANCE_SIGNS` was trained from a dirty tree or by more than one commit
    (:func:`cikgwb.runs.provenance_flags`; a footnote says so). A run whose ``metrics.json`` cannot
    be read (:func:`cikgwb.runs.unreadable_runs`) is a row that says so, below the others. Empty
    when no run matches."""
    from .runs import unreadable_runs

    r = runs
    bad = [
        u
        for u in unreadable_runs(runs)
        if (not datasets or u["dataset"] in (*datasets, None)) and (not models or u["model"] in (*models, None))
    ]
    if datasets:
        r = r[r["dataset"].isin(datasets)]
    if models:
        r = r[r["model"].isin(models)]
    if r.empty and not bad:
        return ""
    prot = {"valid": "valid", "users": "users (report half)", "authors": "authors (selects on **test**)"}
    order = {m: i for i, m in enumerate(TABLE1_ORDER)}
    r = r.assign(_o=r["model"].map(lambda m: order.get(m, 99)), _p=r["protocol"].map(PROTOCOL_ORDER.get))
    r = r.sort_values(["dataset", "_o", "model", "variant", "_p", "views", "run"])
    fmt = lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"  # noqa: E731
    lines = [
        "| dataset | model | variant | protocol | views | seed | device | epochs (selected / run) | R@50 | R@100 | N@50 | N@100 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (d, _, model), g in r.groupby(["dataset", "_o", "model"], sort=True):
        for _, x in g.iterrows():
            how = HOW_IT_ENDED.get(run_status({"stop_reason": x["stop_reason"]}), "cut: max_epochs")
            sel = "" if x["selected_epoch"] is None or pd.isna(x["selected_epoch"]) else int(x["selected_epoch"])
            ep = "" if x["epochs"] is None or pd.isna(x["epochs"]) else int(x["epochs"])
            lines.append(
                f"| {d} | {x['model']} | {x['variant']} | {prot.get(x['protocol'], x['protocol'])} | "
                f"{(x['views'] or '') if x['model'] == 'cikgrec' else ''} | {_seed(x['seed'])}{_marks(x)} | "
                f"{x['device']} | "
                f"{sel} / {ep}, {how} | " + " | ".join(fmt(x[f"test {k}"]) for k in HEADLINE) + " |"
            )
        paper = PAPER_TABLE1.get(d, {}).get(model)
        if paper:
            lines.append(
                f"| {d} | {model} | *paper, Table 1* | authors | | | | | " + " | ".join(fmt(v) for v in paper) + " |"
            )
    for u in bad:  # one unreadable run never hides the others: a row says what is wrong with it
        why = u["why"].replace("|", "/")
        lines.append(
            f"| {u['dataset'] or '?'} | {u['model'] or '?'} | **unreadable run** `{u['run']}` | | | | | {why} | | | | |"
        )
    used = {f for v in r.get("provenance", pd.Series(dtype=str)).fillna("") for f in str(v).split(",") if f}
    notes = [f"{PROVENANCE_SIGNS[f]} {PROVENANCE_MARKS[f]}." for f in PROVENANCE_SIGNS if f in used]
    return "\n".join(lines) + "\n" + ("\n" + "\n\n".join(notes) + "\n" if notes else "")


#: the mark of each provenance flag (:data:`cikgwb.runs.PROVENANCE_MARKS`) in the tables
PROVENANCE_SIGNS = {"dirty": "†", "commits": "‡"}


def _marks(x: Any) -> str:
    """A run row's provenance marks (:data:`PROVENANCE_SIGNS`), e.g. ``" †"``; empty if none."""
    flags = [f for f in str(x.get("provenance") or "").split(",") if f]
    return (" " + "".join(PROVENANCE_SIGNS[f] for f in flags)) if flags else ""


def _flagged_seeds(d: pd.DataFrame) -> str:
    """The seeds of ``d`` whose run is flagged (:data:`PROVENANCE_SIGNS`), e.g. ``"† 0; ‡ 1"``."""
    if "provenance" not in d:
        return ""
    out = []
    for flag, sign in PROVENANCE_SIGNS.items():
        seeds = [_seed(s) for s, v in zip(d["seed"], d["provenance"].fillna("")) if flag in str(v).split(",")]
        out += [f"{sign} {','.join(sorted(seeds))}"] if seeds else []
    return "; ".join(out)


def _fmt(mean: float, std: float, n: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "missing"
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def aggregate(
    runs: pd.DataFrame,
    keys: tuple[str, ...] = ("dataset", "model", "variant", "protocol", "views"),
    metrics: tuple[str, ...] = HEADLINE,
) -> pd.DataFrame:
    """Mean and sample std over seeds per ``keys``; with ``seeds``, ``n``, ``devices``,
    ``converged`` (all runs early-stopped), ``provenance`` (:func:`_flagged_seeds`) and one
    ``<metric>`` text cell per metric
    (``mean ± std``). Of several runs with the same keys and seed only the newest counts; runs
    cut by a time limit are left out of a cell that has converged runs (``left out`` counts them)."""
    if runs.empty:
        return pd.DataFrame(columns=[*keys, "seeds", "n", "devices", "converged"])
    # one run per seed: a rerun (same dataset, model, variant, protocol, views and seed) replaces
    # the older one (ISO timestamps sort in time order; runs without one count as oldest)
    runs = (
        runs.assign(_t=runs["finished_at"].fillna("") if "finished_at" in runs else "")
        .sort_values("_t")
        .drop_duplicates([*keys, "seed"], keep="last")
        .drop(columns="_t")
    )
    rows = []
    for key, d in runs.groupby(list(keys), dropna=False, sort=True):
        row = dict(zip(keys, key))
        # a run cut by a time limit is a lower bound, not a sample: where converged runs exist the
        # cell is theirs alone (the cut ones are counted in ``left out``), else the cell is marked
        conv = d[d["converged"].astype(bool)]
        row["left out"] = len(d) - len(conv) if 0 < len(conv) < len(d) else 0
        if row["left out"]:
            d = conv
        row["seeds"] = ",".join(str(int(s)) for s in sorted(d["seed"].dropna().unique()))
        row["n"] = len(d)
        row["devices"] = ",".join(sorted({str(x) for x in d["device"]}))
        row["converged"] = bool(d["converged"].all())
        row["provenance"] = _flagged_seeds(d)
        for k in metrics:
            v = d[f"test {k}"].astype(float)
            row[f"{k} mean"] = float(v.mean())
            row[f"{k} std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            row[k] = _fmt(row[f"{k} mean"], row[f"{k} std"], len(v))
        rows.append(row)
    return pd.DataFrame(rows)


#: the order protocols are listed in: the leak-free headline first, the paper's comparison last
PROTOCOL_ORDER = {"users": 0, "valid": 1, "authors": 2}


def table1(
    runs: pd.DataFrame,
    datasets: tuple[str, ...] | None = None,
    models: list[str] | None = None,
    protocols: tuple[str, ...] = ("users", "valid", "authors"),
) -> pd.DataFrame:
    """Table 1: per dataset x model x protocol, mean ± std of the test metrics over seeds, the
    paper's figure (authors' protocol) beside it, and a row marked ``missing`` for every
    expected combination without a run (the real datasets x (CIKGRec, LightGCN and the
    registered baselines) x every protocol); other datasets (synthetic) list only their runs.
    ``provenance`` names the seeds trained from a dirty tree or by more than one commit
    (:func:`_flagged_seeds`)."""
    full = runs[runs["variant"].isin(["full", "-"])] if not runs.empty else runs
    agg = aggregate(full)
    if datasets is None:
        datasets = tuple(dict.fromkeys([*REAL_DATASETS, *sorted(set(runs["dataset"].dropna()))]))
    if models is None:
        from .models import MODELS, _import_all

        _import_all()
        models = ["cikgrec", "lightgcn"] + sorted(m for m in MODELS if m not in ("cikgrec", "lightgcn"))
        models += sorted(set(runs["model"].dropna()) - set(models)) if not runs.empty else []
    rows = []
    for ds in datasets:
        for model in models:
            for prot in protocols:
                hit = (
                    agg[(agg["dataset"] == ds) & (agg["model"] == model) & (agg["protocol"] == prot)]
                    if not agg.empty
                    else agg
                )
                paper = PAPER_TABLE1.get(ds, {}).get(model)
                base = {"dataset": ds, "model": model, "protocol": prot}
                if len(hit) == 0 and ds not in REAL_DATASETS:
                    continue  # other datasets (synthetic): only what was run
                if len(hit) == 0:
                    rows.append(
                        {
                            **base,
                            "views": "",
                            "seeds": "",
                            "n": 0,
                            "devices": "",
                            "converged": None,
                            "provenance": "",
                            **{k: "missing" for k in HEADLINE},
                            **{f"paper {k}": (paper[i] if paper else None) for i, k in enumerate(HEADLINE)},
                        }
                    )
                    continue
                for _, h in hit.iterrows():
                    r = {
                        **base,
                        "views": h["views"],
                        "seeds": h["seeds"],
                        "n": h["n"],
                        "devices": h["devices"],
                        "converged": h["converged"],
                        "provenance": h["provenance"],
                    }
                    for i, k in enumerate(HEADLINE):
                        r[k] = h[k]
                        r[f"{k} mean"] = h[f"{k} mean"]
                        r[f"{k} std"] = h[f"{k} std"]
                        r[f"paper {k}"] = paper[i] if paper else None
                    rows.append(r)
    out = pd.DataFrame(rows)
    out["status"] = np.where(
        out["n"] > 0,
        np.where(out["converged"].fillna(False).astype(bool), "done", "not converged (quick / time limit)"),
        "missing",
    )
    out.loc[(out["status"] == "missing") & (out["dataset"] == "ml1m"), "status"] = ML1M_MISSING
    return out


# why ml1m cells are empty until a GPU run lands (scripts/gpu_campaign.sh)
ML1M_MISSING = "missing: needs a GPU (~30 min per CIKGRec epoch on a 2-core CPU: 680 batches x 2.6 s)"


def table3(
    runs: pd.DataFrame, dataset: str = "book-crossing", protocols: tuple[str, ...] = ("valid", "authors")
) -> pd.DataFrame:
    """Table 3 (ablations, R@100 / N@100) of ``dataset``: one row per variant and protocol,
    ``missing`` where no run exists (on ml1m with why: :data:`ML1M_MISSING`), the paper's
    figures of that dataset beside them; ``provenance`` as in :func:`table1`."""
    d = runs[(runs["dataset"] == dataset) & (runs["model"] == "cikgrec")] if not runs.empty else runs
    agg = aggregate(d, metrics=("recall@100", "ndcg@100")) if len(d) else pd.DataFrame()
    rows = []
    for prot in protocols:
        for v in VARIANTS:
            hit = agg[(agg["variant"] == v) & (agg["protocol"] == prot)] if len(agg) else agg
            paper = PAPER_TABLE3.get(dataset, {}).get(v)
            base = {
                "dataset": dataset,
                "variant": v,
                "protocol": prot,
                "paper recall@100": paper[0] if paper else None,
                "paper ndcg@100": paper[1] if paper else None,
            }
            if len(hit) == 0 and dataset not in REAL_DATASETS:
                continue
            if len(hit) == 0:
                rows.append(
                    {
                        **base,
                        "views": "",
                        "seeds": "",
                        "n": 0,
                        "devices": "",
                        "recall@100": "missing",
                        "ndcg@100": "missing",
                        "status": ML1M_MISSING if dataset == "ml1m" else "missing",
                        "provenance": "",
                    }
                )
                continue
            for _, h in hit.iterrows():
                rows.append(
                    {
                        **base,
                        "views": h["views"],
                        "seeds": h["seeds"],
                        "n": h["n"],
                        "devices": h["devices"],
                        "provenance": h["provenance"],
                        "recall@100": h["recall@100"],
                        "ndcg@100": h["ndcg@100"],
                        "recall@100 mean": h["recall@100 mean"],
                        "ndcg@100 mean": h["ndcg@100 mean"],
                        "recall@100 std": h["recall@100 std"],
                        "ndcg@100 std": h["ndcg@100 std"],
                        "status": "done" if h["converged"] else "not converged (quick / time limit)",
                    }
                )
    cols = [
        "dataset",
        "variant",
        "protocol",
        "views",
        "seeds",
        "n",
        "devices",
        "provenance",
        "status",
        "recall@100",
        "ndcg@100",
        "recall@100 mean",
        "ndcg@100 mean",
        "recall@100 std",
        "ndcg@100 std",
        "paper recall@100",
        "paper ndcg@100",
    ]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- per-user metrics
def evaluate_test(model: Any, ds: Any, k: int | None = 20, ks: tuple[int, ...] = (20, 50, 100)):
    """Full-ranking test evaluation (train + valid masked) with per-user metrics and the
    top-``k`` lists (:class:`cikgwb.evaluate.EvalResult`)."""
    import torch

    from .evaluate import evaluate, split_masks

    heldout, exclude = split_masks(ds, "test")
    with torch.no_grad():
        return evaluate(model.score_fn(), heldout, exclude, ks=ks, return_topk=k)


def train_counts(ds: Any) -> np.ndarray:
    """Training interactions per user used for the sparsity groups: all of ``train.txt``
    (train + valid), so every protocol and model gets the same groups."""
    return np.diff(ds.matrix("train_full").indptr)


def run_sparsity_groups(
    run_dir: str | Path,
    ds: Any = None,
    n_groups: int = 4,
    metrics: tuple[str, ...] = ("ndcg@50", "recall@50"),
    refresh: bool = False,
    device: str = "cpu",
) -> pd.DataFrame:
    """Test metrics per sparsity group of one run, cached in ``<run>/sparsity_groups.csv``.

    Read from the cache when present (and not ``refresh``), else computed from the run's
    per-user test metrics (``test_per_user.npz`` or ``explorer.npz``, committed without the
    checkpoint) or, failing those, from its checkpoint, and written there. Columns: ``group, range, min_count, max_count,
    interactions, users, users_evaluated`` and the metrics.
    """
    from .evaluate import group_metrics, sparsity_groups

    run_dir = Path(run_dir)
    cache = run_dir / SPARSITY_FILE
    if cache.exists() and not refresh:
        df = pd.read_csv(cache)
        if all(m in df.columns for m in metrics) and df["group"].nunique() <= n_groups:
            return df
    res = _committed_per_user(run_dir, ds, metrics)
    if res is None:
        _, ds, model = load_run(run_dir, ds, device=device)
        res = evaluate_test(model, ds, k=None)
    elif ds is None:
        from .models import load_config
        from .runs import prepare_dataset

        ds = prepare_dataset(load_config(run_dir / "config.yaml"))
    counts = train_counts(ds)
    groups = sparsity_groups(counts, n_groups)
    df = group_metrics(res, groups, list(metrics), counts).reset_index()
    from .atomic import atomic_open  # beside the run: written atomically like its other files

    with atomic_open(cache) as fh:
        df.to_csv(fh, index=False)
    return df


def _committed_per_user(run_dir: Path, ds: Any, metrics: tuple[str, ...]) -> Any:
    """Per-user test metrics of a run without its checkpoint: from ``test_per_user.npz`` (the
    trainer's) or the run's ``explorer.npz`` (:mod:`cikgwb.run_artefact`), as an object
    :func:`cikgwb.evaluate.group_metrics` reads (``per_user``, ``evaluated``, ``n_users``); None
    when neither file holds the metrics."""
    from types import SimpleNamespace

    from .run_folder import ARTEFACT_FILE, PER_USER_FILE

    pu = None
    if (run_dir / PER_USER_FILE).exists():
        with np.load(run_dir / PER_USER_FILE) as z:
            pu = {k: z[k] for k in z.files}
    elif (run_dir / ARTEFACT_FILE).exists():
        with np.load(run_dir / ARTEFACT_FILE) as z:
            pu = {k[3:]: z[k] for k in z.files if k.startswith("pu_")}
    if pu is None or not all(m in pu for m in metrics):
        return None
    n_users = int(ds.n_users) if ds is not None else int(pu["users"].max()) + 1
    users = pu["users"].astype(np.int64)
    evaluated = np.zeros(n_users, dtype=bool)
    evaluated[users] = True
    per_user = {}
    for m in metrics:
        full = np.full(n_users, np.nan)
        full[users] = pu[m]
        per_user[m] = full
    return SimpleNamespace(per_user=per_user, evaluated=evaluated, n_users=n_users)


def sparsity_table(
    runs: pd.DataFrame, ds: Any = None, n_groups: int = 4, metric: str = "ndcg@50", device: str = "cpu"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 3's data for ``runs`` (rows of :func:`runs_table`, one dataset): ``(groups,
    skipped)``. ``groups``: per model label and group, the mean and std over seeds of
    ``metric``; ``skipped``: runs without checkpoint or cache, with the reason."""
    rows, skipped = [], []
    for _, r in runs.iterrows():
        try:
            g = run_sparsity_groups(r["path"], ds, n_groups, device=device)
        except FileNotFoundError:
            skipped.append(
                {
                    "run": r["run"],
                    "model": r["model"],
                    "reason": f"no per-user test metrics: no {SPARSITY_FILE}, test_per_user.npz or "
                    "explorer.npz in the run folder and no checkpoint on this machine (make them "
                    f"with `cikgwb per-user {r['path']}` where the checkpoint is)",
                }
            )
            continue
        label = r["model"] if r["variant"] in ("full", "-") else f"{r['model']} {r['variant']}"
        g = g.assign(model=label, seed=r["seed"], run=r["run"])
        rows.append(g)
    if not rows:
        return pd.DataFrame(), pd.DataFrame(skipped, columns=["run", "model", "reason"])
    long = pd.concat(rows, ignore_index=True)
    agg = (
        long.groupby(["model", "group", "range", "users"], sort=False)[metric]
        .agg(["mean", "std", "count"])
        .reset_index()
        .rename(columns={"mean": metric, "std": f"{metric} std", "count": "seeds"})
    )
    agg[f"{metric} std"] = agg[f"{metric} std"].fillna(0.0)
    return agg, pd.DataFrame(skipped, columns=["run", "model", "reason"])


def group_sizes(counts: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Per sparsity group: ``range`` of training interactions, ``users``, ``interactions``."""
    rows = []
    for g in np.unique(groups):
        c = counts[groups == g]
        rows.append(
            {
                "group": int(g),
                "range": f"{c.min()}-{c.max()}" if c.min() != c.max() else f"{c.min()}",
                "users": int(len(c)),
                "interactions": int(c.sum()),
            }
        )
    return pd.DataFrame(rows)
