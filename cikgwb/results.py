"""Results of finished runs for the notebooks: Table 1 and Table 3 cells marked with dataset,
protocol, seeds and device; trained models reloaded from a run's checkpoint; per-user test
metrics per sparsity group (Figure 3) and top-K lists (Figure 4, the explorer).

A run is a folder ``reports/runs/<name>/`` written by :class:`cikgwb.train.Trainer`
(``config.yaml``, ``history.jsonl``, ``metrics.json``, ``checkpoints/best.pt``). Checkpoints are
not committed, so what needs a model (per-user metrics, top-K lists) is cached next to the run
as small files (``sparsity_groups.csv``) that can be committed with it.

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

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .reports import HEADLINE, PAPER_TABLE1

REAL_DATASETS = ("book-crossing", "dbbook2014", "ml1m")
PAPER_TABLE3 = {
    # dataset -> variant -> (R@100, N@100), the paper's Table 3 (all three datasets)
    "dbbook2014": {
        "full": (0.5756, 0.2739), "w/o UIK": (0.5673, 0.2615), "w/o UIR": (0.5701, 0.2704),
        "w/o CL": (0.5732, 0.2659), "w/o DMR": (0.5712, 0.2709), "linear": (0.5733, 0.2716),
    },
    "book-crossing": {
        "full": (0.2455, 0.1041), "w/o UIK": (0.2330, 0.0991), "w/o UIR": (0.2081, 0.0843),
        "w/o CL": (0.2291, 0.0917), "w/o DMR": (0.2129, 0.0853), "linear": (0.2452, 0.1036),
    },
    "ml1m": {
        "full": (0.5718, 0.4609), "w/o UIK": (0.5662, 0.4527), "w/o UIR": (0.5713, 0.4601),
        "w/o CL": (0.5583, 0.4480), "w/o DMR": (0.5710, 0.4596), "linear": (0.5714, 0.4603),
    },
}
VARIANTS = tuple(PAPER_TABLE3["book-crossing"])
SPARSITY_FILE = "sparsity_groups.csv"


# ----------------------------------------------------------------------------- run table
def variant_of(cfg: dict[str, Any]) -> str:
    """Table 3 variant of a run's config dict (module docstring); a baseline's is
    :func:`baseline_variant`."""
    m = cfg.get("model", {})
    if m.get("model", "cikgrec") != "cikgrec":
        return baseline_variant(cfg)
    if m.get("no_interests") or cfg.get("interests") == "none":
        return "w/o UIK"
    if m.get("no_uir"):
        return "w/o UIR"
    if m.get("no_cl"):
        return "w/o CL"
    if m.get("schedule") == "fixed":
        return "w/o DMR"
    if m.get("schedule") == "lin":
        return "linear"
    src = cfg.get("interests")
    if src not in (None, "", "paper"):  # another interest graph (e.g. kg-summary): not the paper's CIKGRec row
        return f"interests {Path(str(src)).name}"
    return "full"


def baseline_variant(cfg: dict[str, Any]) -> str:
    """``"-"`` for a baseline run with its model's defaults (``DEFAULTS``: its authors' settings,
    or the value tuned on valid where the docstring says so); otherwise the settings that differ,
    e.g. ``"lr=0.0001"`` for a run kept as the evidence of a tuning step. Such runs are not
    Table 1's row."""
    from .config import DATASET_SETTINGS_MODELS
    from .models import model_class

    m = cfg.get("model", {})
    if m.get("model") in DATASET_SETTINGS_MODELS:  # no class DEFAULTS apply (config.default_config)
        return "-"
    try:
        defaults = getattr(model_class(m.get("model")), "DEFAULTS", {})
    except ValueError:
        return "-"
    sections = {**cfg.get("train", {}), **m}
    differ = []
    for key, want in defaults.items():
        got = m.get("extra", {}).get(key[6:], want) if key.startswith("extra.") else sections.get(key, want)
        if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            same = math.isclose(float(got), want, rel_tol=1e-9)
        else:
            same = got == want or (isinstance(want, (list, tuple)) and list(got) == list(want))
        if not same:
            differ.append(f"{key}={got:g}" if isinstance(got, float) else f"{key}={got}")
    return ", ".join(differ) if differ else "-"


def runs_table(root: str | Path | None = None) -> pd.DataFrame:
    """One row per finished run under ``root`` (default ``reports/runs``; sub-folders too, the
    run's name is then its path below ``root``).

    Columns: ``run, dataset, model, variant, protocol, views, seed, interests, selected_epoch,
    max_epochs, converged, stop_reason, device, wall_seconds, path`` and ``test <metric>`` /
    ``valid <metric>`` for Recall/NDCG@50/100. ``converged`` is False for runs cut by
    ``max_epochs`` or a time limit (quick runs).
    """
    from .train import REPORTS

    root = Path(root) if root is not None else REPORTS / "runs"
    rows = []
    for p in sorted(root.rglob("metrics.json")):   # runs may be grouped in sub-folders (runs/gpu/<run>)
        try:
            m = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if "test" not in m:  # an interrupted run
            continue
        cfg_path = p.parent / "config.yaml"
        cfg: dict[str, Any] = {}
        if cfg_path.exists():
            import yaml
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
        stop = str(m.get("stop_reason") or "")
        row = {"run": p.parent.relative_to(root).as_posix(), "dataset": m.get("dataset"), "model": m.get("model"),
               "variant": variant_of(cfg) if cfg else ("full" if m.get("model") == "cikgrec" else "-"),
               "protocol": m.get("protocol"), "views": m.get("views"), "seed": m.get("seed"),
               "interests": m.get("interests"), "selected_epoch": m.get("selected_epoch"),
               "max_epochs": cfg.get("train", {}).get("max_epochs"),
               "converged": stop.startswith("early stop"), "stop_reason": stop,
               "device": m.get("device"), "wall_seconds": m.get("wall_seconds"),
               "finished_at": m.get("finished_at"), "path": str(p.parent),
               "epochs": m.get("epochs_run") or _count_lines(p.parent / "history.jsonl")}
        for split in ("test", "valid"):
            for k in HEADLINE:
                row[f"{split} {k}"] = m.get(split, {}).get(k)
        rows.append(row)
    cols = ["run", "dataset", "model", "variant", "protocol", "views", "seed", "interests", "selected_epoch",
            "max_epochs", "converged", "stop_reason", "device", "wall_seconds", "finished_at", "path", "epochs"] + \
        [f"{s} {k}" for s in ("test", "valid") for k in HEADLINE]
    return pd.DataFrame(rows, columns=cols)


def _count_lines(path: Path) -> int | None:
    return sum(1 for ln in path.read_text().splitlines() if ln.strip()) if path.exists() else None


def _seed(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))


def results_markdown(runs: pd.DataFrame, datasets: list[str] | None = None, models: list[str] | None = None) -> str:
    """Every finished run (one row each, Table 1 metrics at its selected epoch) with the
    paper's Table 1 figures below each (dataset, model): the README's results table, from
    ``cikgwb results``. ``epochs``: selected / run, and how the run ended. Empty when no run matches."""
    from .reports import PAPER_TABLE1, TABLE1_ORDER

    r = runs
    if datasets:
        r = r[r["dataset"].isin(datasets)]
    if models:
        r = r[r["model"].isin(models)]
    if r.empty:
        return ""
    prot = {"valid": "valid", "authors": "authors (selects on **test**)"}
    order = {m: i for i, m in enumerate(TABLE1_ORDER)}
    r = r.assign(_o=r["model"].map(lambda m: order.get(m, 99)),
                 _p=r["protocol"].map(lambda p: 0 if p == "valid" else 1))
    r = r.sort_values(["dataset", "_o", "model", "variant", "_p", "views", "run"])
    fmt = lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"  # noqa: E731
    lines = ["| dataset | model | variant | protocol | views | seed | device | epochs (selected / run) | R@50 | R@100 | N@50 | N@100 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (d, _, model), g in r.groupby(["dataset", "_o", "model"], sort=True):
        for _, x in g.iterrows():
            stop = str(x["stop_reason"])
            how = ("early stop" if stop.startswith("early stop") else
                   "cut: time limit" if stop.startswith("time limit") else "cut: max_epochs")
            sel = "" if x["selected_epoch"] is None or pd.isna(x["selected_epoch"]) else int(x["selected_epoch"])
            ep = "" if x["epochs"] is None or pd.isna(x["epochs"]) else int(x["epochs"])
            lines.append(f"| {d} | {x['model']} | {x['variant']} | {prot.get(x['protocol'], x['protocol'])} | "
                         f"{(x['views'] or '') if x['model'] == 'cikgrec' else ''} | {_seed(x['seed'])} | {x['device']} | "
                         f"{sel} / {ep}, {how} | "
                         + " | ".join(fmt(x[f"test {k}"]) for k in HEADLINE) + " |")
        paper = PAPER_TABLE1.get(d, {}).get(model)
        if paper:
            lines.append(f"| {d} | {model} | *paper, Table 1* | authors | | | | | "
                         + " | ".join(fmt(v) for v in paper) + " |")
    return "\n".join(lines) + "\n"


def _fmt(mean: float, std: float, n: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "missing"
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def aggregate(runs: pd.DataFrame, keys: tuple[str, ...] = ("dataset", "model", "variant", "protocol", "views"),
              metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """Mean and sample std over seeds per ``keys``; with ``seeds``, ``n``, ``devices``,
    ``converged`` (all runs early-stopped) and one ``<metric>`` text cell per metric
    (``mean ± std``). Of several runs with the same keys and seed only the newest counts; runs
    cut by a time limit are left out of a cell that has converged runs (``left out`` counts them)."""
    if runs.empty:
        return pd.DataFrame(columns=[*keys, "seeds", "n", "devices", "converged"])
    # one run per seed: a rerun (same dataset, model, variant, protocol, views and seed) replaces
    # the older one (ISO timestamps sort in time order; runs without one count as oldest)
    runs = (runs.assign(_t=runs["finished_at"].fillna("") if "finished_at" in runs else "")
            .sort_values("_t").drop_duplicates([*keys, "seed"], keep="last").drop(columns="_t"))
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
        for k in metrics:
            v = d[f"test {k}"].astype(float)
            row[f"{k} mean"] = float(v.mean())
            row[f"{k} std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            row[k] = _fmt(row[f"{k} mean"], row[f"{k} std"], len(v))
        rows.append(row)
    return pd.DataFrame(rows)


def table1(runs: pd.DataFrame, datasets: tuple[str, ...] | None = None, models: list[str] | None = None,
           protocols: tuple[str, ...] = ("valid", "authors")) -> pd.DataFrame:
    """Table 1: per dataset x model x protocol, mean ± std of the test metrics over seeds, the
    paper's figure (authors' protocol) beside it, and a row marked ``missing`` for every
    expected combination without a run (the real datasets x (CIKGRec, LightGCN and the
    registered baselines) x both protocols); other datasets (synthetic) list only their runs."""
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
                hit = agg[(agg["dataset"] == ds) & (agg["model"] == model) & (agg["protocol"] == prot)] \
                    if not agg.empty else agg
                paper = PAPER_TABLE1.get(ds, {}).get(model)
                base = {"dataset": ds, "model": model, "protocol": prot}
                if len(hit) == 0 and ds not in REAL_DATASETS:
                    continue  # other datasets (synthetic): only what was run
                if len(hit) == 0:
                    rows.append({**base, "views": "", "seeds": "", "n": 0, "devices": "", "converged": None,
                                 **{k: "missing" for k in HEADLINE},
                                 **{f"paper {k}": (paper[i] if paper else None) for i, k in enumerate(HEADLINE)}})
                    continue
                for _, h in hit.iterrows():
                    r = {**base, "views": h["views"], "seeds": h["seeds"], "n": h["n"], "devices": h["devices"],
                         "converged": h["converged"]}
                    for i, k in enumerate(HEADLINE):
                        r[k] = h[k]
                        r[f"{k} mean"] = h[f"{k} mean"]
                        r[f"{k} std"] = h[f"{k} std"]
                        r[f"paper {k}"] = paper[i] if paper else None
                    rows.append(r)
    out = pd.DataFrame(rows)
    out["status"] = np.where(out["n"] > 0, np.where(out["converged"].fillna(False).astype(bool), "done",
                                                    "not converged (quick / time limit)"), "missing")
    out.loc[(out["status"] == "missing") & (out["dataset"] == "ml1m"), "status"] = ML1M_MISSING
    return out


# why ml1m cells are empty until a GPU run lands (scripts/gpu_campaign.sh)
ML1M_MISSING = "missing: needs a GPU (~30 min per CIKGRec epoch on a 2-core CPU: 680 batches x 2.6 s)"


def table3(runs: pd.DataFrame, dataset: str = "book-crossing",
           protocols: tuple[str, ...] = ("valid", "authors")) -> pd.DataFrame:
    """Table 3 (ablations, R@100 / N@100) of ``dataset``: one row per variant and protocol,
    ``missing`` where no run exists, the paper's figures of that dataset beside them."""
    d = runs[(runs["dataset"] == dataset) & (runs["model"] == "cikgrec")] if not runs.empty else runs
    agg = aggregate(d, metrics=("recall@100", "ndcg@100")) if len(d) else pd.DataFrame()
    rows = []
    for prot in protocols:
        for v in VARIANTS:
            hit = agg[(agg["variant"] == v) & (agg["protocol"] == prot)] if len(agg) else agg
            paper = PAPER_TABLE3.get(dataset, {}).get(v)
            base = {"dataset": dataset, "variant": v, "protocol": prot,
                    "paper recall@100": paper[0] if paper else None, "paper ndcg@100": paper[1] if paper else None}
            if len(hit) == 0 and dataset not in REAL_DATASETS:
                continue
            if len(hit) == 0:
                rows.append({**base, "views": "", "seeds": "", "n": 0, "devices": "",
                             "recall@100": "missing", "ndcg@100": "missing", "status": "missing"})
                continue
            for _, h in hit.iterrows():
                rows.append({**base, "views": h["views"], "seeds": h["seeds"], "n": h["n"], "devices": h["devices"],
                             "recall@100": h["recall@100"], "ndcg@100": h["ndcg@100"],
                             "recall@100 mean": h["recall@100 mean"], "ndcg@100 mean": h["ndcg@100 mean"],
                             "status": "done" if h["converged"] else "not converged (quick / time limit)"})
    cols = ["dataset", "variant", "protocol", "views", "seeds", "n", "devices", "status", "recall@100", "ndcg@100",
            "recall@100 mean", "ndcg@100 mean", "paper recall@100", "paper ndcg@100"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- trained models
def load_run(run_dir: str | Path, ds: Any = None, device: str = "cpu", checkpoint: str = "best.pt"):
    """``(cfg, ds, model)`` of a finished run, the model at its selected epoch, in eval mode.

    ``ds``: the dataset if already loaded (its interest source is applied as the run's config
    says). Raises ``FileNotFoundError`` naming what is missing (checkpoints are not committed).
    """
    import torch

    from .config import RunConfig
    from .models import build_model
    from .train import checkpoint_candidates, find_checkpoint, prepare_dataset

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    ck_path = find_checkpoint(run_dir, checkpoint) or checkpoint_candidates(run_dir)[0] / checkpoint
    for p in (cfg_path, ck_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: load_run needs the run's config.yaml and its checkpoint "
                                    f"{checkpoint} (checkpoints are not committed: they live under "
                                    "$CIKGWB_CHECKPOINT_DIR, default ~/.cache/cikgwb/checkpoints; rerun the "
                                    "training or run this where the checkpoints are)")
    cfg = RunConfig.load(cfg_path)
    ds = prepare_dataset(cfg, ds)
    pairs = ds.train if cfg.train.protocol == "valid" else ds.train_full
    dev = torch.device(device)
    model = build_model(cfg.model.model, ds, cfg.model, pairs, dev)
    state = torch.load(ck_path, map_location=dev, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    return cfg, ds, model


def has_checkpoint(run_dir: str | Path, name: str = "best.pt") -> bool:
    """Whether a run's checkpoint is on this machine (outside the work tree, or in an old run's
    ``checkpoints/``: :func:`cikgwb.train.find_checkpoint`)."""
    from .train import find_checkpoint
    return find_checkpoint(run_dir, name) is not None


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


def run_sparsity_groups(run_dir: str | Path, ds: Any = None, n_groups: int = 4,
                        metrics: tuple[str, ...] = ("ndcg@50", "recall@50"), refresh: bool = False,
                        device: str = "cpu") -> pd.DataFrame:
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
        from .config import RunConfig
        from .train import prepare_dataset
        ds = prepare_dataset(RunConfig.load(run_dir / "config.yaml"))
    counts = train_counts(ds)
    groups = sparsity_groups(counts, n_groups)
    df = group_metrics(res, groups, list(metrics), counts).reset_index()
    df.to_csv(cache, index=False)
    return df


def _committed_per_user(run_dir: Path, ds: Any, metrics: tuple[str, ...]) -> Any:
    """Per-user test metrics of a run without its checkpoint: from ``test_per_user.npz`` (the
    trainer's) or the run's ``explorer.npz`` (:mod:`cikgwb.run_artefact`), as an object
    :func:`cikgwb.evaluate.group_metrics` reads (``per_user``, ``evaluated``, ``n_users``); None
    when neither file holds the metrics."""
    from types import SimpleNamespace

    from .run_artefact import ARTEFACT_FILE
    from .train import PER_USER_FILE

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


def sparsity_table(runs: pd.DataFrame, ds: Any = None, n_groups: int = 4, metric: str = "ndcg@50",
                   device: str = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 3's data for ``runs`` (rows of :func:`runs_table`, one dataset): ``(groups,
    skipped)``. ``groups``: per model label and group, the mean and std over seeds of
    ``metric``; ``skipped``: runs without checkpoint or cache, with the reason."""
    rows, skipped = [], []
    for _, r in runs.iterrows():
        try:
            g = run_sparsity_groups(r["path"], ds, n_groups, device=device)
        except FileNotFoundError:
            skipped.append({"run": r["run"], "model": r["model"],
                            "reason": f"no per-user test metrics: no {SPARSITY_FILE}, test_per_user.npz or "
                                      "explorer.npz in the run folder and no checkpoint on this machine (make them "
                                      f"with `cikgwb per-user {r['path']}` where the checkpoint is)"})
            continue
        label = r["model"] if r["variant"] in ("full", "-") else f"{r['model']} {r['variant']}"
        g = g.assign(model=label, seed=r["seed"], run=r["run"])
        rows.append(g)
    if not rows:
        return pd.DataFrame(), pd.DataFrame(skipped, columns=["run", "model", "reason"])
    long = pd.concat(rows, ignore_index=True)
    agg = (long.groupby(["model", "group", "range", "users"], sort=False)[metric]
           .agg(["mean", "std", "count"]).reset_index()
           .rename(columns={"mean": metric, "std": f"{metric} std", "count": "seeds"}))
    agg[f"{metric} std"] = agg[f"{metric} std"].fillna(0.0)
    return agg, pd.DataFrame(skipped, columns=["run", "model", "reason"])


# ----------------------------------------------------------------------------- training runs
VARIANT_OVERRIDES: dict[str, dict[str, Any]] = {
    "full": {}, "w/o UIK": {"no_interests": True}, "w/o UIR": {"no_uir": True}, "w/o CL": {"no_cl": True},
    "w/o DMR": {"schedule": "fixed"}, "linear": {"schedule": "lin"},
}
_SLUG = {"full": "", "w/o UIK": "wo-uik", "w/o UIR": "wo-uir", "w/o CL": "wo-cl", "w/o DMR": "wo-dmr",
         "linear": "lin"}


def parse_label(label: str) -> tuple[str, str]:
    """``"lightgcn"`` -> ``("lightgcn", "-")``, ``"cikgrec"`` -> ``("cikgrec", "full")``,
    ``"cikgrec w/o UIR"`` or ``"w/o UIR"`` -> ``("cikgrec", "w/o UIR")``."""
    label = label.strip()
    for v in VARIANTS:
        if label == v or label == f"cikgrec {v}":
            return "cikgrec", v
    if " " in label:
        raise ValueError(f"model {label!r}: expected a model name or a CIKGRec variant among {list(VARIANTS)}")
    return label, ("full" if label == "cikgrec" else "-")


def run_name(dataset: str, label: str, protocol: str, seed: int, quick: bool) -> str:
    """``<dataset>-<model>[-<variant>]-<protocol>-s<seed>`` (the name ``cikgwb train`` gives a
    full run), prefixed ``quick-`` in quick mode."""
    model, variant = parse_label(label)
    slug = _SLUG.get(variant, "")
    base = f"{dataset}-{model}{'-' + slug if slug else ''}-{protocol}-s{seed}"
    return f"quick-{base}" if quick else base


def train_runs(ds: Any, labels: list[str], seeds: list[int], runs_root: str | Path, *, protocol: str = "valid",
               quick: bool = True, quick_epochs: int = 20, device: str = "auto", reuse: bool = False,
               train_missing: bool = True, interests: str = "paper", overrides: dict[str, Any] | None = None,
               log: Any = print) -> pd.DataFrame:
    """Train each model label x seed under ``runs_root/<run_name>`` with the dataset's default
    config (:func:`cikgwb.config.default_config`) plus the variant's and ``overrides``'
    settings; quick mode caps training at ``quick_epochs`` epochs (patience 5). Returns the
    :func:`runs_table` rows of the runs used.

    ``reuse``: take a finished run instead of training when one exists under ``runs_root``
    (sub-folders included, whatever its name: e.g. runs made on a GPU machine) with the same
    dataset, model, variant, protocol, views and seed, quick runs (``quick-`` names) only in
    quick mode and the others only in full mode; the newest wins. With ``overrides`` other than
    ``views`` only a run of exactly this name is reused. ``train_missing=False`` trains nothing:
    combinations without a finished run are logged and left out.
    """
    import time

    from .config import apply_overrides, default_config
    from .train import Trainer

    runs_root = Path(runs_root)
    overrides = dict(overrides or {})
    existing = runs_table(runs_root) if reuse else None
    picked: list[str] = []
    for label in labels:
        model, variant = parse_label(label)
        for seed in seeds:
            name = run_name(ds.name, label, protocol, int(seed), quick)
            cfg = default_config(ds.name, model)
            cfg.interests = interests
            apply_overrides(cfg, {**VARIANT_OVERRIDES.get(variant, {}), **overrides})
            cfg.train.protocol, cfg.train.seed, cfg.train.device, cfg.name = protocol, int(seed), device, name
            if existing is not None and len(existing):
                e = existing
                if set(overrides) - {"views"}:
                    m = e[e["run"] == name]
                else:
                    m = e[(e["dataset"] == ds.name) & (e["model"] == model) & (e["variant"] == variant)
                          & (e["protocol"] == protocol) & (e["seed"] == int(seed)) & (e["views"] == cfg.model.views)
                          & (e["run"].map(lambda r: Path(r).name.startswith("quick-")) == bool(quick))]
                if len(m):
                    run = m.sort_values("finished_at", na_position="first")["run"].iloc[-1]
                    picked.append(run)
                    log(f"{name}: reusing the finished run {run}")
                    continue
            if not train_missing:
                log(f"{name}: no finished run under {runs_root}; not trained (train_missing=False)")
                continue
            if quick:
                cfg.train.max_epochs = min(cfg.train.max_epochs, int(quick_epochs))
                cfg.train.patience = min(cfg.train.patience, 5)
            t0 = time.time()
            res = Trainer(cfg, ds=ds, run_dir=runs_root / name, progress=False).fit(overwrite=True)  # retrain
            m = res.metrics
            picked.append(name)
            log(f"{name}: {len(res.history)} epochs in {time.time() - t0:.1f} s on {m['device']}, selected epoch "
                f"{m['selected_epoch']}, test R@50 {m['test']['recall@50']:.4f} N@50 {m['test']['ndcg@50']:.4f}")
    table = runs_table(runs_root)
    return table[table["run"].isin(picked)].reset_index(drop=True)


def group_sizes(counts: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Per sparsity group: ``range`` of training interactions, ``users``, ``interactions``."""
    rows = []
    for g in np.unique(groups):
        c = counts[groups == g]
        rows.append({"group": int(g), "range": f"{c.min()}-{c.max()}" if c.min() != c.max() else f"{c.min()}",
                     "users": int(len(c)), "interactions": int(c.sum())})
    return pd.DataFrame(rows)
