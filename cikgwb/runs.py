"""The run layer: what a run is called, which splits its protocol trains and selects on, which
interest graph it reads, where finished runs are (the run index, :func:`find_run`) and how a
trained model is reloaded. Every caller (``cikgwb train``, sweeps, the campaign script, the
notebooks, the explorer) goes through these functions; none keeps its own rule.

**Names.** ``[quick-]<dataset>-<model>[-<variant>]-<protocol>[-<tag>]-s<seed>``
(:func:`run_stem`, :func:`run_name`): the variant is a CIKGRec ablation's slug (``wo-uik``,
``wo-uir``, ``wo-cl``, ``wo-dmr``, ``lin``; nothing for the full model and the baselines), the
tag an optional free word (``lr1e-4``, ``authorsviews``). ``cikgwb train --name STEM`` gives the
stem; ``-s<seed>`` is always added.

**Protocols** (:data:`PROTOCOLS`): ``valid`` trains on train, selects the epoch on valid and
evaluates test once; ``users`` trains on all of train.txt (the window every released input was
built from, so none can leak into selection), selects on the test items of a seeded half of the
test users and evaluates the other half's once; ``authors`` trains on all of train.txt and
selects on TEST, as the authors' code does (comparison with the paper's Table 1 only).

**Interests** (:func:`resolve_interests`, one meaning for every command): ``paper`` (also
``default`` or empty) is the dataset's released interest graph; ``none`` is no interest node
anywhere (w/o UIK: a run's model gets ``no_interests``, an inspected dataset an empty interest
graph); anything else is the path of a user-interest graph (a folder written by ``cikgwb
interests cluster``, a ``user interest`` file, or a dataset name for that dataset's released
graph). A path that does not exist is refused before any data is loaded.

**Caller resolves, trainer reads.** :func:`prepare_run` turns a config into a resolved copy
(name, ``no_interests``) and a ready dataset (the interest graph applied); the trainer takes
them as they are and changes neither.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .paper import HEADLINE, VARIANTS
from .paths import runs_root


# ----------------------------------------------------------------------------- protocols
@dataclass(frozen=True)
class Splits:
    """What a protocol trains on, selects the epoch on and tests on (names of
    :class:`~cikgwb.data.Dataset` splits; the masks are :func:`cikgwb.evaluate.split_masks`'s)."""

    protocol: str
    train: str  # the training pairs: "train" or "train_full" (train + valid)
    select: str  # the split the epoch is selected on: "valid" or "test"
    test: str = "test"  # evaluated once at the selected epoch (masked: all of train.txt)

    def train_pairs(self, ds: Any) -> np.ndarray:
        return getattr(ds, self.train)

    def masks(self, ds: Any, split: str | None = None) -> tuple[Any, Any]:
        """``(heldout, exclude)`` of the selection split (or ``split``)."""
        from .evaluate import split_masks

        return split_masks(ds, split or self.select)


PROTOCOLS = {
    "valid": Splits("valid", train="train", select="valid"),
    "authors": Splits("authors", train="train_full", select="test"),
    "users": Splits("users", train="train_full", select="sel_half", test="report_half"),
}
PROTOCOL_NOTES = {
    "valid": "selection on VALID; test evaluated once at the selected epoch",
    "authors": "AUTHORS' PROTOCOL: trained on all of train.txt and selected on TEST "
    "(comparison with the paper's Table 1 only, not a headline figure)",
    "users": "trained on all of train.txt; the test users drawn into two halves (split_seed): the epoch selected "
    "on the SELECTION half's test items, the REPORT half's test items evaluated once (the test metrics)",
}


def protocol_splits(protocol: str) -> Splits:
    """The :class:`Splits` of ``protocol``; a ``ValueError`` names the valid ones."""
    try:
        return PROTOCOLS[protocol]
    except (KeyError, TypeError):
        raise ValueError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}") from None


#: the stop reason of a closed-form model (EASE, ItemKNN, GF-CF, MostPop): fitted once, complete
CLOSED_FORM_STOP = "closed form: fitted once from the training pairs (no epochs to select)"


def converged(stop_reason: str | None) -> bool:
    """Whether a run ended complete: early-stopped, or a closed-form model fitted once (not cut
    by ``max_epochs`` or a time limit)."""
    return str(stop_reason or "").startswith(("early stop", "closed form:"))


# ----------------------------------------------------------------------------- names
VARIANT_SLUGS = {
    "full": "",
    "w/o UIK": "wo-uik",
    "w/o UIR": "wo-uir",
    "w/o CL": "wo-cl",
    "w/o DMR": "wo-dmr",
    "linear": "lin",
}
VARIANT_OVERRIDES: dict[str, dict[str, Any]] = {
    "full": {},
    "w/o UIK": {"no_interests": True},
    "w/o UIR": {"no_uir": True},
    "w/o CL": {"no_cl": True},
    "w/o DMR": {"schedule": "fixed"},
    "linear": {"schedule": "lin"},
}
_NAME = re.compile(r"^(?P<stem>.+)-s(?P<seed>\d+)$")


def run_stem(
    dataset: str,
    model: str,
    protocol: str = "valid",
    variant: str | None = None,
    tag: str | None = None,
    quick: bool = False,
) -> str:
    """``[quick-]<dataset>-<model>[-<variant slug>]-<protocol>[-<tag>]`` (module docstring)."""
    slug = VARIANT_SLUGS.get(variant or "", "")
    stem = "-".join(x for x in (dataset, model, slug, protocol, tag) if x)
    return f"quick-{stem}" if quick else stem


def run_name(stem: str, seed: int) -> str:
    """``<stem>-s<seed>``: the folder name of one seed of a run."""
    return f"{stem}-s{int(seed)}"


def split_run_name(name: str) -> tuple[str, int | None]:
    """``(stem, seed)`` of a run name (``seed`` None when the name has no ``-s<seed>``)."""
    m = _NAME.match(str(name))
    return (m["stem"], int(m["seed"])) if m else (str(name), None)


def cikgrec_variant(model: dict[str, Any], interests: Any = None) -> str:
    """Table 3 variant of a CIKGRec model config (a dict): ``full``, ``w/o UIK``, ``w/o UIR``,
    ``w/o CL``, ``w/o DMR``, ``linear``, or ``interests <graph>`` for another interest graph;
    a run with other than fp32 arithmetic says so (``full (bf16)``): it is not a seed of the
    fp32 row."""
    variant = _cikgrec_variant(model, interests)
    precision = model.get("precision") or "fp32"
    return variant if precision == "fp32" else f"{variant} ({precision})"


def _cikgrec_variant(model: dict[str, Any], interests: Any = None) -> str:
    src = resolve_interests(interests, check=False)
    if model.get("no_interests") or src.kind == "none":
        return "w/o UIK"
    for key, value, variant in (
        ("no_uir", True, "w/o UIR"),
        ("no_cl", True, "w/o CL"),
        ("schedule", "fixed", "w/o DMR"),
        ("schedule", "lin", "linear"),
    ):
        if bool(model.get(key)) if value is True else model.get(key) == value:
            return variant
    if src.kind == "path":  # another interest graph (e.g. kg-summary): not the paper's CIKGRec row
        return f"interests {Path(str(src.spec)).name}"
    return "full"


def default_stem(cfg: Any) -> str:
    """The stem ``cikgwb train`` gives a run without ``--name``: its dataset, model, CIKGRec
    variant (if any) and protocol."""
    variant = cikgrec_variant(cfg.model.__dict__, cfg.interests) if cfg.model.model == "cikgrec" else None
    return run_stem(cfg.dataset, cfg.model.model, cfg.train.protocol, variant)


def name_of(cfg: Any) -> str:
    """A run's name: ``cfg.name`` if set, else :func:`default_stem` and its seed."""
    return cfg.name or run_name(default_stem(cfg), cfg.train.seed)


# ----------------------------------------------------------------------------- interests
PAPER_SPELLINGS = ("paper", "default", "")


@dataclass(frozen=True)
class InterestSource:
    """A resolved ``--interests`` value: ``kind`` is ``paper``, ``none`` or ``path``."""

    spec: str
    kind: str
    path: Path | None = None

    @property
    def key(self) -> str:
        return str(self.path) if self.path is not None else self.spec


def resolve_interests(spec: Any, check: bool = True) -> InterestSource:
    """``paper`` | ``none`` | PATH (module docstring). With ``check`` a PATH must exist (or be
    a dataset name): ``FileNotFoundError`` names it and what is expected."""
    if spec is None or str(spec).strip() in PAPER_SPELLINGS:
        return InterestSource("paper", "paper")
    text = str(spec).strip()
    if text == "none":
        return InterestSource("none", "none")
    p = Path(text).expanduser()
    if p.exists():
        return InterestSource(text, "path", p.resolve())
    if check:
        from .data.registry import REGISTRY

        if text not in REGISTRY:
            raise FileNotFoundError(
                f"--interests {text}: no such file or folder ({p.resolve()}); expected paper, none, the path of a "
                "user-interest graph (a folder written by `cikgwb interests cluster` or a 'user interest' file) "
                "or a dataset name"
            )
    return InterestSource(text, "path")


def reads_interests(cfg: Any) -> bool:
    """Whether the run's model reads an interest graph at all (not a baseline, LightGCN, w/o UIK)."""
    return cfg.model.reads_interest_graph() and resolve_interests(cfg.interests, check=False).kind != "none"


def reads_paper_interests(cfg: Any) -> bool:
    """Whether the run's model reads the dataset's released interest graph."""
    return reads_interests(cfg) and resolve_interests(cfg.interests, check=False).kind == "paper"


def interest_source_used(cfg: Any, loaded: str | None) -> str:
    """What a run's metrics.json says about interests: the graph the model read (``loaded``, the
    dataset's ``interests_source``), or that it read none (baselines, LightGCN, w/o UIK)."""
    if not reads_interests(cfg):
        return (
            f"none ({cfg.model.model} reads no interest graph)"
            if cfg.model.model != "cikgrec"
            else "none (w/o UIK: no interest graph)"
        )
    return str(loaded)


def dataset_with_interests(ds: Any, spec: Any) -> Any:
    """A dataset showing the interest graph ``spec`` (for inspection: ``cikgwb graph``, notebook
    04): ``paper`` keeps the released graph (an error where there is none), ``none`` empties it,
    a PATH replaces it."""
    from .knowledge.interest_graph import apply_interest_graph

    src = resolve_interests(spec)
    if src.kind == "paper":
        if ds.n_interests == 0:
            raise ValueError(
                f"dataset {ds.name} has no released interest graph; give --interests PATH or --interests none"
            )
        return ds
    if src.kind == "none":
        return apply_interest_graph(ds, np.zeros((0, 2), dtype=np.int64), source="none (no interest graph: w/o UIK)")
    return _apply_path(ds, src)


def _apply_path(ds: Any, src: InterestSource) -> Any:
    from .knowledge.interest_graph import apply_interest_graph

    if ds.meta.get("interests_path") == src.key:  # already applied (a ready dataset)
        return ds
    out = apply_interest_graph(ds, src.spec)
    out.meta["interests_path"] = src.key  # the copy's own meta dict
    return out


# ----------------------------------------------------------------------------- caller resolves
def resolve_config(cfg: Any) -> Any:
    """A resolved copy of a run config (``cfg`` is not changed): its name (:func:`name_of`)
    and, for ``interests: none``, ``model.no_interests``; a model that reads no interest graph
    (a baseline, LightGCN, CIKGRec with ``no_interests``) gets ``interests: none``, so that its
    ``config.yaml`` says what the model read. Checks the interest source and the protocol (errors
    name them)."""
    src = resolve_interests(cfg.interests)
    protocol_splits(cfg.train.protocol)
    out = copy.deepcopy(cfg)
    out.name = name_of(cfg)
    if src.kind == "none" and hasattr(out.model, "no_interests"):  # a model that reads interests (CIKGRec)
        out.model.no_interests = True
    if not out.model.reads_interest_graph():
        out.interests = "none"
    return out


def prepare_dataset(cfg: Any, ds: Any = None) -> Any:
    """The run's dataset with its interest source applied: ``ds`` if given (a PATH graph is
    applied once), else loaded (the released interest file is required only where the run
    reads it; otherwise it is still loaded when present, so the node index space is the same)."""
    src = resolve_interests(cfg.interests)
    if ds is None:
        from .data import load_dataset

        ds = load_dataset(
            cfg.dataset,
            split_seed=cfg.train.split_seed,
            interests="paper" if reads_paper_interests(cfg) else "optional",
        )
    return _apply_path(ds, src) if src.kind == "path" else ds


def prepare_run(cfg: Any, ds: Any = None) -> tuple[Any, Any]:
    """``(resolved config, ready dataset)`` of a run: what the trainer takes."""
    cfg = resolve_config(cfg)
    return cfg, prepare_dataset(cfg, ds)


# ----------------------------------------------------------------------------- run index
def baseline_variant(cfg: dict[str, Any]) -> str:
    """``"-"`` for a baseline run with its model's defaults on its dataset (its authors' settings,
    or the value tuned on valid where the docstring says so); otherwise the settings that differ,
    e.g. ``"lr=0.0001"`` for a run kept as the evidence of a tuning step. Such runs are not
    Table 1's row (:func:`cikgwb.models.variant_label`)."""
    from .models import variant_label

    return variant_label(cfg)


#: beside a run whose settings were chosen on the selection split from a grid (``cikgwb sweep
#: --select``): the sweep, the split, every point's selection score and the chosen point
GRID_SELECTION_FILE = "grid_selection.json"


def variant_of(cfg: dict[str, Any], run_dir: str | Path | None = None) -> str:
    """Table 3 variant of a run's config dict (:func:`cikgrec_variant`); a baseline's is
    :func:`baseline_variant`, or ``"-"`` (its model's row) where its settings were chosen on the
    selection split from a grid (a :data:`GRID_SELECTION_FILE` in ``run_dir``)."""
    m = cfg.get("model", {})
    if (
        m.get("model", "cikgrec") != "cikgrec"
        and run_dir is not None
        and (Path(run_dir) / GRID_SELECTION_FILE).is_file()
    ):
        return "-"
    if m.get("model", "cikgrec") != "cikgrec":
        return baseline_variant(cfg)
    return cikgrec_variant(m, cfg.get("interests"))


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
    if (p.parent / "config.yaml").exists():
        import yaml

        cfg = yaml.safe_load((p.parent / "config.yaml").read_text()) or {}
    stop = str(m.get("stop_reason") or "")
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
        "converged": converged(stop),
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
    from .run_artefact import ARTEFACT_FILE

    if roots is None:
        roots = [runs_root()]
    elif isinstance(roots, (str, Path)):
        roots = [roots]
    rows, seen, unreadable = [], set(), []
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("metrics.json")):
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
    """Whether a run's checkpoint is on this machine (:func:`cikgwb.train.find_checkpoint`)."""
    from .train import find_checkpoint

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
    from .train import checkpoint_candidates, find_checkpoint

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
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
    import time

    from .config import apply_overrides
    from .models import default_config
    from .train import Trainer

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
            cfg, run_ds = prepare_run(cfg, ds)
            res = Trainer(cfg, ds=run_ds, run_dir=runs_root / name, progress=False).fit(overwrite=True)  # retrain
            m = res.metrics
            picked.append(name)
            log(
                f"{name}: {len(res.history)} epochs in {time.time() - t0:.1f} s on {m['device']}, selected epoch "
                f"{m['selected_epoch']}, test R@50 {m['test']['recall@50']:.4f} N@50 {m['test']['ndcg@50']:.4f}"
            )
    table = runs_table(runs_root)
    return table[table["run"].isin(picked)].reset_index(drop=True)
