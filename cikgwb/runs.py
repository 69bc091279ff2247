"""The run store, above the trainer: where finished runs are (the run index, :func:`find_run`),
how a trained model is reloaded (:func:`load_run`), and :func:`run`, the one way to make a run
that the CLI, the sweeps, the campaign script and the notebooks call.

Below it: what a run is (:mod:`cikgwb.run_spec`: names, protocols, interests, the resolved
config), its folder (:mod:`cikgwb.run_folder`: files, checkpoints, ``status``) and the trainer
(:mod:`cikgwb.train`); their names are imported from their own modules, not from here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .atomic import atomic_write_bytes, atomic_write_text
from .paper import HEADLINE, VARIANTS
from .paths import relative_to_cwd, runs_root
from .run_folder import (
    ARTEFACT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    PER_USER_FILE,
    check_run_dir,
    checkpoint_candidates,
    converged,
    find_checkpoint,
    load_per_user,
    run_status,
    save_per_user,
)
from .run_spec import (
    VARIANT_OVERRIDES,
    prepare_dataset,
    prepare_run,
    protocol_splits,
    resolve_config,
    run_name,
    run_stem,
    variant_of,
)

if TYPE_CHECKING:
    from .train import TrainResult

# the trainer, torch and the models are imported late (inside the functions that train or
# reload), so that listing runs stays quick (the explorer's listing); every such import goes down


# ----------------------------------------------------------------------------- run
def run(
    cfg: Any,
    ds: Any = None,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Make one run: resolve ``cfg`` (:func:`cikgwb.run_spec.resolve_config`: its name, its
    interest source; a config resolved already, as ``cikgwb train`` gives it, is taken as it is,
    and ``cfg`` itself is never changed), refuse a folder holding a finished run unless ``resume``
    or ``overwrite`` (before any data is loaded), load the dataset with that interest source
    (:func:`cikgwb.run_spec.prepare_dataset`), then train (:class:`cikgwb.train.Trainer`, which
    reads the config). ``run_dir``: default ``<runs root>/<name>``.
    Returns the trainer's :class:`~cikgwb.train.TrainResult` (``run_dir``, ``metrics``, ``history``)."""
    cfg = resolve_config(cfg)
    run_dir = Path(run_dir) if run_dir is not None else relative_to_cwd(runs_root() / cfg.name)
    check_run_dir(run_dir, resume=resume, overwrite=overwrite)
    ds = prepare_dataset(cfg, ds)
    from .train import Trainer

    return Trainer(cfg, ds=ds, run_dir=run_dir, progress=progress).fit(resume=resume, overwrite=overwrite)


# ----------------------------------------------------------------------------- run index
INDEX_COLUMNS = [
    "run",
    "dataset",
    "model",
    "variant",
    "protocol",
    "views",
    "seed",
    "interests",
    "selected_epoch",
    "max_epochs",
    "converged",
    "stop_reason",
    "device",
    "wall_seconds",
    "finished_at",
    "path",
    "epochs",
    "provenance",
] + [f"{s} {k}" for s in ("test", "valid") for k in HEADLINE]

#: the marks of :func:`provenance_flags`, and what each means (tables print them with a footnote)
PROVENANCE_MARKS = {
    "dirty": "trained from a work tree with uncommitted changes (its git_commit ends in -dirty): the "
    "code that ran is not exactly the commit named",
    "commits": "its calls and metrics.json name more than one commit (resumed, or finished, at another "
    "commit than the one it started at): more than one version of the code trained it",
}


def provenance_flags(m: dict[str, Any]) -> str:
    """What a run's ``metrics.json`` (``m``) says against its code's provenance, from its
    ``git_commit`` and the commit of each of its ``calls``: ``"dirty"``, ``"commits"`` (see
    :data:`PROVENANCE_MARKS`), both comma-separated, or ``""``."""
    commits = [str(c["git_commit"]) for c in m.get("calls") or [] if c.get("git_commit")]
    commits += [str(m["git_commit"])] if m.get("git_commit") else []
    flags = ["dirty"] if any(c.endswith("-dirty") for c in commits) else []
    if len({c.removesuffix("-dirty") for c in commits}) > 1:
        flags.append("commits")
    return ",".join(flags)


def _count_lines(path: Path) -> int | None:
    return sum(1 for ln in path.read_text().splitlines() if ln.strip()) if path.exists() else None


def _index_row(p: Path, root: Path, variants: bool = True) -> dict[str, Any] | None:
    text = p.read_text()
    if not text.strip():
        raise ValueError(f"{p}: empty ({len(text.encode())} bytes): the run was stopped while writing it")
    try:
        m = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if "test" not in m:  # an interrupted run
        return None
    cfg: dict[str, Any] = {}
    if (p.parent / CONFIG_FILE).exists():
        import yaml

        cfg = yaml.safe_load((p.parent / CONFIG_FILE).read_text()) or {}
    stop = str(m.get("stop_reason") or "")
    status = run_status(m)
    row = {
        "run": p.parent.relative_to(root).as_posix(),
        "dataset": m.get("dataset"),
        "model": m.get("model"),
        "variant": (
            None
            if not variants
            else variant_of(cfg, p.parent)
            if cfg
            else "full"
            if m.get("model") == "cikgrec"
            else "-"
        ),
        "protocol": m.get("protocol"),
        "views": m.get("views"),
        "seed": m.get("seed"),
        "interests": m.get("interests"),
        "selected_epoch": m.get("selected_epoch"),
        "max_epochs": cfg.get("train", {}).get("max_epochs"),
        "converged": converged(status),
        "stop_reason": stop,
        "device": m.get("device"),
        "wall_seconds": m.get("wall_seconds"),
        "finished_at": m.get("finished_at"),
        "path": str(p.parent),
        "epochs": m.get("epochs_run") or _count_lines(p.parent / "history.jsonl"),
        "provenance": provenance_flags(m),
    }
    for split in ("test", "valid"):
        for k in HEADLINE:
            row[f"{split} {k}"] = m.get(split, {}).get(k)
    return row


def run_index(
    roots: str | Path | Iterable[str | Path] | None = None, skip_unreadable: bool = False, variants: bool = True
) -> pd.DataFrame:
    """One row per finished run under ``roots`` (default :func:`cikgwb.paths.runs_root`; sub-folders
    too: ``run`` is then the path below its root; a folder found under two roots counts once).

    Columns: ``run, dataset, model, variant, protocol, views, seed, interests, selected_epoch,
    max_epochs, converged, stop_reason, device, wall_seconds, finished_at, path, epochs,
    provenance`` (:func:`provenance_flags`),
    ``test <metric>`` / ``valid <metric>`` for Recall/NDCG@50/100, then ``name`` (the folder's
    name) and ``artefact`` (its ``explorer.npz`` or None). ``converged`` is False for runs cut
    by ``max_epochs`` or a time limit. A run whose ``metrics.json`` cannot be read (empty, not valid
    JSON, no permission) is no row: it is listed in ``attrs["unreadable"]`` (:func:`unreadable_runs`:
    its folder, dataset and model where its ``config.yaml`` tells them, and why), so that a
    table of the others is still made and can say so; ``skip_unreadable`` leaves it out of that
    list too (the explorer lists what it can). ``variants=False``
    leaves ``variant`` empty and imports no model (a baseline's variant compares its settings
    with its model's defaults): the explorer's quick listing."""
    if roots is None:
        roots = [runs_root()]
    elif isinstance(roots, (str, Path)):
        roots = [roots]
    rows, seen, unreadable = [], set(), []
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for p in sorted(root.rglob(METRICS_FILE)):
            if p.parent.resolve() in seen:
                continue
            try:
                row = _index_row(p, root, variants)
            except (OSError, ValueError) as exc:
                if not skip_unreadable:
                    unreadable.append(_unreadable_row(p, root, exc))
                continue
            if row is None:
                continue
            seen.add(p.parent.resolve())
            a = p.parent / ARTEFACT_FILE
            rows.append({**row, "name": p.parent.name, "artefact": str(a) if a.is_file() else None})
    df = pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "name", "artefact"])
    df.attrs["unreadable"] = unreadable
    return df


def _unreadable_row(p: Path, root: Path, exc: BaseException) -> dict[str, Any]:
    """What is known of a run whose ``metrics.json`` cannot be read: its folder, its dataset and
    model (from ``config.yaml`` where that reads), and why (one line)."""
    cfg: dict[str, Any] = {}
    try:
        import yaml

        cfg = yaml.safe_load((p.parent / "config.yaml").read_text()) or {}
    except Exception:  # noqa: BLE001 - the row says what it can
        cfg = {}
    model = cfg.get("model") if isinstance(cfg, dict) else None
    return {
        "run": p.parent.relative_to(root).as_posix(),
        "dataset": cfg.get("dataset") if isinstance(cfg, dict) else None,
        "model": model.get("model") if isinstance(model, dict) else None,
        "path": str(p.parent),
        "why": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
    }


def unreadable_runs(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs :func:`run_index` found but could not read (``run, dataset, model, path, why``)."""
    return list(runs.attrs.get("unreadable", []))


def runs_table(root: str | Path | None = None) -> pd.DataFrame:
    """:func:`run_index` of one runs folder with its first columns (the notebooks' table)."""
    return run_index(root)[INDEX_COLUMNS]


def has_checkpoint(run_dir: str | Path, name: str = "best.pt") -> bool:
    """Whether a run's checkpoint is on this machine (:func:`cikgwb.run_folder.find_checkpoint`)."""
    return find_checkpoint(run_dir, name) is not None


# ----------------------------------------------------------------------------- find_run
def find_runs(
    runs: pd.DataFrame,
    *,
    run: str | Path | None = None,
    dataset: str | None = None,
    model: str | Iterable[str] | None = None,
    variant: str | Iterable[str] | None = None,
    protocol: str | None = None,
    quick: bool | None = None,
    need: Iterable[str] = (),
    prefer: Iterable[Any] = (),
) -> pd.DataFrame:
    """The rows of a run index (:func:`run_index`) that match, best first.

    Filters: ``run`` (a name, a path below the root, or a folder), ``dataset``, ``model`` and
    ``variant`` (one value or several), ``protocol``, ``quick`` (``quick-`` names only, or none of
    them); ``need``: the run must have at least one of these (``"artefact"``: an ``explorer.npz``,
    ``"checkpoint"``: its ``best.pt`` on this machine). ``prefer``: criteria in order, each a
    column (true first: ``"artefact"``, ``"converged"``, ``"checkpoint"``) or a dict of column
    values (matching rows first); ties keep the index's order."""
    r = runs
    if len(r) == 0:
        return r
    if run is not None:
        want = str(run)
        res = str(Path(want).expanduser().resolve())
        r = r[[want in (x, n, p) or str(Path(p).resolve()) == res for x, n, p in zip(r["run"], r["name"], r["path"])]]
    for col, val in (("dataset", dataset), ("model", model), ("variant", variant), ("protocol", protocol)):
        if val is not None:
            r = r[r[col] == val] if isinstance(val, str) else r[r[col].isin(list(val))]
    if quick is not None:
        r = r[r["name"].str.startswith("quick-") == bool(quick)]
    prefer, need = list(prefer), list(need)
    if "checkpoint" in need or "checkpoint" in prefer:
        r = r.assign(checkpoint=[has_checkpoint(p) for p in r["path"]])
    if need and len(r):
        r = r[[any(_truthy(row[c]) for c in need) for _, row in r.iterrows()]]
    if prefer and len(r):

        def key(i: int) -> tuple:
            row = r.iloc[i]
            return (
                *(
                    not (all(row[k] == v for k, v in c.items()) if isinstance(c, dict) else _truthy(row[c]))
                    for c in prefer
                ),
                i,
            )

        r = r.iloc[sorted(range(len(r)), key=key)]
    return r


def _truthy(v: Any) -> bool:
    """A cell that says yes: True, a path; not False, None, NaN or an empty string."""
    try:
        if pd.isna(v):
            return False
    except (TypeError, ValueError):
        pass
    return bool(v)


def find_run(runs: pd.DataFrame, **criteria: Any) -> pd.Series | None:
    """The best row of :func:`find_runs` (same arguments), or None when no run matches."""
    r = find_runs(runs, **criteria)
    return r.iloc[0] if len(r) else None


# ----------------------------------------------------------------------------- reload
def load_run(run_dir: str | Path, ds: Any = None, device: str = "cpu", checkpoint: str = "best.pt"):
    """``(cfg, ds, model)`` of a finished run, the model at its selected epoch, in eval mode.

    ``ds``: the dataset if already loaded (its interest source is applied as the run's config
    says). Raises ``FileNotFoundError`` naming what is missing (checkpoints are not committed).
    """
    import torch

    from .models import build_model, load_config

    run_dir = Path(run_dir)
    cfg_path = run_dir / CONFIG_FILE
    ck_path = find_checkpoint(run_dir, checkpoint) or checkpoint_candidates(run_dir)[0] / checkpoint
    for p in (cfg_path, ck_path):
        if not p.exists():
            raise FileNotFoundError(
                f"{p} not found: load_run needs the run's config.yaml and its checkpoint "
                f"{checkpoint} (checkpoints are not committed: they live under "
                "$CIKGWB_CHECKPOINT_DIR, default ~/.cache/cikgwb/checkpoints; rerun the "
                "training or run this where the checkpoints are)"
            )
    cfg, ds = prepare_run(load_config(cfg_path), ds)
    dev = torch.device(device)
    model = build_model(cfg.model.model, ds, cfg.model, protocol_splits(cfg.train.protocol).train_pairs(ds), dev)
    state = torch.load(ck_path, map_location=dev, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    return cfg, ds, model


# ----------------------------------------------------------------------------- the notebooks' runs
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


def train_runs(
    ds: Any,
    labels: list[str],
    seeds: list[int],
    runs_root: str | Path,
    *,
    protocol: str = "valid",
    quick: bool = True,
    quick_epochs: int = 20,
    device: str = "auto",
    reuse: bool = False,
    train_missing: bool = True,
    interests: str = "paper",
    overrides: dict[str, Any] | None = None,
    log: Any = print,
) -> pd.DataFrame:
    """Train each model label x seed under ``runs_root/<run name>`` (:func:`run_stem`: dataset,
    model, variant, protocol, ``quick-`` in quick mode) with the dataset's default config
    (:func:`cikgwb.config.default_config`) plus the variant's and ``overrides``' settings; quick
    mode caps training at ``quick_epochs`` epochs (patience 5). Returns the :func:`runs_table`
    rows of the runs used.

    ``reuse``: take a finished run instead of training when one exists under ``runs_root``
    (sub-folders included, whatever its name: e.g. runs made on a GPU machine) with the same
    dataset, model, variant, protocol, views and seed, quick runs (``quick-`` names) only in
    quick mode and the others only in full mode; the newest wins. With ``overrides`` other than
    ``views`` only a run of exactly this name is reused. ``train_missing=False`` trains nothing:
    combinations without a finished run are logged and left out.
    """
    from .config import apply_overrides
    from .models import default_config

    runs_root = Path(runs_root)
    overrides = dict(overrides or {})
    existing = run_index(runs_root) if reuse else None
    picked: list[str] = []
    for label in labels:
        model, variant = parse_label(label)
        for seed in seeds:
            name = run_name(run_stem(ds.name, model, protocol, variant, quick=quick), int(seed))
            cfg = default_config(ds.name, model)
            cfg.interests = interests
            apply_overrides(cfg, {**VARIANT_OVERRIDES.get(variant, {}), **overrides})
            cfg.train.protocol, cfg.train.seed, cfg.train.device, cfg.name = protocol, int(seed), device, name
            if existing is not None and len(existing):
                if set(overrides) - {"views"}:
                    m = find_runs(existing, run=name)
                    m = m[m["run"] == name]
                else:
                    m = find_runs(
                        existing, dataset=ds.name, model=model, variant=variant, protocol=protocol, quick=quick
                    )
                    m = m[(m["seed"] == int(seed)) & (m["views"] == getattr(cfg.model, "views", "paper"))]
                if len(m):
                    found = m.sort_values("finished_at", na_position="first")["run"].iloc[-1]
                    picked.append(found)
                    log(f"{name}: reusing the finished run {found}")
                    continue
            if not train_missing:
                log(f"{name}: no finished run under {runs_root}; not trained (train_missing=False)")
                continue
            if quick:
                cfg.train.max_epochs = min(cfg.train.max_epochs, int(quick_epochs))
                cfg.train.patience = min(cfg.train.patience, 5)
            t0 = time.time()
            res = run(cfg, ds, run_dir=runs_root / name, progress=False, overwrite=True)  # retrain
            m = res.metrics
            picked.append(name)
            log(
                f"{name}: {len(res.history)} epochs in {time.time() - t0:.1f} s on {m['device']}, selected epoch "
                f"{m['selected_epoch']}, test R@50 {m['test']['recall@50']:.4f} N@50 {m['test']['ndcg@50']:.4f}"
            )
    table = runs_table(runs_root)
    return table[table["run"].isin(picked)].reset_index(drop=True)


# ----------------------------------------------------------------------------- per-user metrics of a finished run
def write_per_user(run_dir: str | Path, ds: Any = None, device: str = "cpu") -> dict[str, Any]:
    """Write ``test_per_user.npz`` of an existing run from its ``best.pt`` (the selected epoch):
    the test split evaluated as :meth:`Trainer.finish` does. Returns ``{"path", "epoch",
    "max_abs_diff"}``, the last being the largest difference between the recomputed means and
    metrics.json's test metrics (0 up to float rounding on the same kind of machine)."""
    import torch

    from .evaluate import evaluate

    run_dir = Path(run_dir)
    mpath = run_dir / "metrics.json"
    if not mpath.exists():
        raise FileNotFoundError(f"{mpath} not found: not a finished run")
    metrics = json.loads(mpath.read_text())
    cfg, ds, model = load_run(run_dir, ds=ds, device=device)
    tc = cfg.train
    heldout, exclude = protocol_splits(tc.protocol).masks(ds, "test")
    dev = torch.device(device)
    with torch.no_grad():
        res = evaluate(model.score_fn(), heldout, exclude, ks=tc.ks, batch_size=tc.eval_batch_size, device=dev)
    ck = find_checkpoint(run_dir, "best.pt")
    epoch = torch.load(ck, map_location="cpu", weights_only=False).get("epoch") if ck else None
    path = save_per_user(run_dir / PER_USER_FILE, res, epoch)
    diff = max((abs(res.metrics[k] - v) for k, v in metrics.get("test", {}).items() if k in res.metrics), default=0.0)
    return {"path": str(path), "epoch": epoch, "max_abs_diff": float(diff)}


class RerunMismatch(ValueError):
    """A rerun that is not the same run as the one it should give its per-user metrics to."""


def per_user_from_rerun(run_dir: str | Path, rerun_dir: str | Path, ndcg_tol: float = 1e-6) -> dict[str, Any]:
    """Give a finished run whose checkpoint is gone the ``test_per_user.npz`` of a rerun of it.

    The rerun must be the same run: the same configuration (but the settings a resume may change
    and the name), the same seed, selected epoch and stop reason, and the same test recall, precision
    and hit rate at every k to the last digit; NDCG may differ by up to ``ndcg_tol`` (the float
    rounding of code that computes the same loss in another order moves a few hits inside a
    user's top k). Anything else raises :class:`RerunMismatch` naming it, and nothing is written.
    The file is copied and ``PER_USER_FROM_RERUN.md`` says where it comes from, with the table of
    differences; the run's ``metrics.json`` is not touched. Returns ``{"path", "note",
    "differences"}`` (differences: metric -> (run, rerun) for the values that differ)."""
    import yaml

    from .train import config_differences

    run_dir, rerun_dir = Path(run_dir), Path(rerun_dir)
    if (run_dir / PER_USER_FILE).exists():
        raise RerunMismatch(f"{run_dir / PER_USER_FILE} exists already; nothing was changed")
    loaded = {}
    for d in (run_dir, rerun_dir):
        for f in ("config.yaml", "metrics.json"):
            if not (d / f).is_file():
                raise FileNotFoundError(f"{d / f} not found: {d} is not a finished run")
        loaded[d] = (yaml.safe_load((d / "config.yaml").read_text()), json.loads((d / "metrics.json").read_text()))
    if not (rerun_dir / PER_USER_FILE).is_file():
        raise FileNotFoundError(f"{rerun_dir / PER_USER_FILE} not found: the rerun has no per-user metrics")
    (cfg_a, m_a), (cfg_b, m_b) = loaded[run_dir], loaded[rerun_dir]
    problems = [f"config: {d}" for d in config_differences(cfg_a, cfg_b, ("in the run", "in the rerun"))]
    for key in ("seed", "split_seed", "selected_epoch"):
        if m_a.get(key) != m_b.get(key):
            problems.append(f"{key}: {m_a.get(key)!r} in the run, {m_b.get(key)!r} in the rerun")
    if m_a.get("stop_reason") != m_b.get("stop_reason"):  # e.g. a rerun cut by its time limit
        problems.append(f"stop_reason: {m_a.get('stop_reason')!r} in the run, {m_b.get('stop_reason')!r} in the rerun")
    test_a, test_b = m_a.get("test", {}), m_b.get("test", {})
    if set(test_a) != set(test_b):
        problems.append(f"test metrics: {sorted(test_a)} in the run, {sorted(test_b)} in the rerun")
    differences = {k: (test_a[k], test_b[k]) for k in sorted(set(test_a) & set(test_b)) if test_a[k] != test_b[k]}
    for k, (a, b) in differences.items():
        if not k.startswith("ndcg@") or abs(a - b) > ndcg_tol:
            problems.append(f"test {k}: {a!r} in the run, {b!r} in the rerun (allowed: NDCG within {ndcg_tol:g})")
    if problems:
        raise RerunMismatch(
            f"{rerun_dir} is not the same run as {run_dir}; nothing was written:\n  " + "\n  ".join(problems)
        )
    per_user = load_per_user(rerun_dir)
    for k, v in test_b.items():  # the file is the rerun's own: its means are the rerun's metrics
        if k in per_user and abs(float(np.mean(per_user[k], dtype=np.float64)) - v) > 1e-5:
            raise RerunMismatch(f"{rerun_dir / PER_USER_FILE}: mean {k} does not match the rerun's metrics.json")
    atomic_write_bytes(run_dir / PER_USER_FILE, (rerun_dir / PER_USER_FILE).read_bytes())
    commit = str(m_b.get("git_commit", "unknown"))[:7]
    head = (
        f"`{PER_USER_FILE}` comes from a rerun of this run (same configuration and seed, commit {commit}, "
        f"finished {m_b.get('finished_at', '?')}; this run was trained at commit "
        f"{str(m_a.get('git_commit', 'unknown'))[:7]}): the run's own checkpoint was gone. The rerun selected the "
        f"same epoch ({m_b.get('selected_epoch')} of {m_b.get('epochs_run')}, this run {m_a.get('selected_epoch')} "
        f"of {m_a.get('epochs_run')})"
    )
    if not differences:
        note = (
            head
            + " and gave exactly the same test metrics (every value of `metrics.json`'s `test`, to the last digit), so its per-user metrics are this run's.\n"
        )
    else:
        rows = "".join(f"| {k} | {a:.10f} | {b:.10f} | {b - a:+.1e} |\n" for k, (a, b) in differences.items())
        note = (
            head + " and the same test recall, precision and hit rate at every k, to the last digit; the NDCG "
            f"values differ by at most {max(abs(b - a) for a, b in differences.values()):.1e} (the order of a "
            "few hits inside a user's top k changed):\n\n| test metric | this run | rerun | rerun - this run |\n"
            "|---|---|---|---|\n" + rows + "\nSo its per-user metrics stand for this run's: their means match this "
            "run's recall (the over-users tests' metric) to the last digit. The run's `metrics.json` is unchanged.\n"
        )
    atomic_write_text(run_dir / "PER_USER_FROM_RERUN.md", note)
    return {"path": str(run_dir / PER_USER_FILE), "note": note, "differences": differences}
